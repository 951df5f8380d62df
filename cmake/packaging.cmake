# packaging.cmake: `cpack` (in the build directory) makes, from the install rules
# (cmake/install.cmake), sluice_<version>_<arch>.deb and sluice-<version>-linux-<arch>.tar.gz (the
# same tree: etc/, usr/; cmake/cpack_generator.cmake): /usr/bin/sluice and its private libraries,
# the conffile /etc/sluice/sluice.yaml, the units and the man page. One package for Debian 12 and
# 13 and Ubuntu 22.04 and 24.04, so Depends: is a contract written here, not whatever
# dpkg-shlibdeps finds on the build machine; the install tests check it covers every library the
# binary needs and that the package installs and runs in Debian 13. The maintainer scripts
# (cmake/debian/) only tell a running systemd about the units: installing never enables or starts
# sluice (`systemctl enable --now sluice` does).
set(CPACK_GENERATOR DEB TGZ)
set(CPACK_PROJECT_CONFIG_FILE ${CMAKE_SOURCE_DIR}/cmake/cpack_generator.cmake)
set(CPACK_PACKAGE_NAME sluice)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # sluice_0.1.0_amd64.deb
set(SLUICE_DEB_MAINTAINER "sluice maintainers <sluice@example.invalid>" CACHE STRING "The .deb's Maintainer: field")
set(CPACK_DEBIAN_PACKAGE_MAINTAINER ${SLUICE_DEB_MAINTAINER})
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# The synopsis is project()'s DESCRIPTION; this is the text below it.
set(CPACK_PACKAGE_DESCRIPTION "\
sluice sits in front of Ollama and relays every route of its API unchanged,
streaming each token the moment Ollama sends it, with bounded memory,
backpressure to Ollama when a client is slow, and generation cancelled when
the client goes away. Rewrite rules can pick model variants, set default
options, size num_ctx to the GPU and switch thinking. It also serves a chat
page for browsers and health endpoints, and runs as a hardened systemd service.")
# The versions are dpkg-shlibdeps' for the binary built on Debian 12; all four systems have them.
# Debian 13's and Ubuntu 24.04's libssl3t64 provides libssl3; it is named for whoever reads this.
set(CPACK_DEBIAN_PACKAGE_DEPENDS "libc6 (>= 2.34), libgcc-s1 (>= 3.0), libstdc++6 (>= 12), \
libssl3 (>= 3.0.0) | libssl3t64, libsqlite3-0 (>= 3.14.0), libsystemd0")

# dpkg treats these as the user's: an upgrade keeps local edits, and purge removes them.
set(SLUICE_DEB_CONFFILES ${CMAKE_BINARY_DIR}/deb/conffiles)
file(WRITE ${SLUICE_DEB_CONFFILES} "${CMAKE_INSTALL_FULL_SYSCONFDIR}/sluice/sluice.yaml\n")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
  ${SLUICE_DEB_CONFFILES}
  ${CMAKE_SOURCE_DIR}/cmake/debian/postinst
  ${CMAKE_SOURCE_DIR}/cmake/debian/prerm
  ${CMAKE_SOURCE_DIR}/cmake/debian/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)  # scripts 0755, conffiles 0644

include(CPack)
