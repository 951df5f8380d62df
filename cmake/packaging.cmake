# packaging.cmake: `cpack -G DEB` (in the build directory) makes sluice_<version>_<arch>.deb from the
# install rules (cmake/install.cmake): /usr/bin/sluice, the conffile /etc/sluice/sluice.yaml, the
# units and the man page. Depends: comes from dpkg-shlibdeps (package dpkg-dev), so it names the
# Debian packages of the libraries the binary really links. The maintainer scripts
# (cmake/debian/) only tell a running systemd about the units: installing never enables or
# starts sluice (`systemctl enable --now sluice` does).
set(CPACK_GENERATOR DEB)
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
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)

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
