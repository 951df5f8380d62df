# install.cmake: what `cmake --install` puts where: the binary and its private libraries,
# /etc/sluice/sluice.yaml, the systemd units and the man page (generated from --help by help2man).
# Tests, benchmarks and fuzzers are not installed; the README and the license go to /usr/share/doc/sluice. The units run /usr/bin/sluice --config /etc/sluice/sluice.yaml, so /usr is the default
# prefix; with it GNUInstallDirs puts the config in /etc, not /usr/etc.
# (A build directory configured before this default existed has CMake's /usr/local cached: moved
# once, recorded by SLUICE_INSTALL_PREFIX_CHECKED, so a /usr/local chosen later stays.)
if(CMAKE_INSTALL_PREFIX_INITIALIZED_TO_DEFAULT
   OR (NOT DEFINED SLUICE_INSTALL_PREFIX_CHECKED AND CMAKE_INSTALL_PREFIX STREQUAL "/usr/local"))
  set(CMAKE_INSTALL_PREFIX /usr CACHE PATH "Install prefix (the systemd units expect /usr)" FORCE)
endif()
set(SLUICE_INSTALL_PREFIX_CHECKED ON CACHE INTERNAL "")
include(GNUInstallDirs)
if(NOT CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  message(STATUS "Install prefix ${CMAKE_INSTALL_PREFIX}: the systemd units in config/ still run "
                 "/usr/bin/sluice --config /etc/sluice/sluice.yaml; edit their ExecStart= after installing")
endif()
set(SLUICE_SYSTEMD_UNIT_DIR lib/systemd/system CACHE STRING "Where the systemd units go, relative to the prefix")

install(TARGETS sluice RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
# One package for Debian 12 and 13 and Ubuntu 22.04 and 24.04: the libraries whose soname differs
# between them (yaml-cpp 0.7/0.8, fmt 9/10, spdlog, simdjson 14/19, prometheus-cpp) travel with
# sluice as private copies in lib/sluice, found through the binary's RUNPATH, relative so the
# tarball runs wherever it is unpacked (Debian ships static archives of none but yaml-cpp, so one
# rule for all five). libc, libstdc++ (GCC 12's, which Ubuntu 22.04 has), OpenSSL 3, SQLite and
# libsystemd come from the system: packaging.cmake names them.
set(SLUICE_PRIVATE_LIBRARIES yaml-cpp fmt::fmt spdlog::spdlog simdjson::simdjson prometheus-cpp::core)
set_target_properties(sluice PROPERTIES INSTALL_RPATH "$ORIGIN/../lib/sluice")
install(IMPORTED_RUNTIME_ARTIFACTS ${SLUICE_PRIVATE_LIBRARIES} LIBRARY DESTINATION lib/sluice)
install(FILES config/sluice.yaml DESTINATION ${CMAKE_INSTALL_FULL_SYSCONFDIR}/sluice)
install(FILES config/sluice.service config/sluice.socket DESTINATION ${SLUICE_SYSTEMD_UNIT_DIR})
# The README the units' Documentation= names, and the license where Debian looks for it.
install(FILES README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(FILES LICENSE DESTINATION ${CMAKE_INSTALL_DOCDIR} RENAME copyright)

# sluice.1 from `sluice --help` and each subcommand's --help (cmake/man_page_help.sh), plus
# docs/sluice.h2m for what --help lacks, so it lists every flag the binary has; gzipped for
# installing, as Debian does (-n: no name or time stamp, the same bytes every build).
find_program(HELP2MAN_EXECUTABLE help2man)
find_program(GZIP_EXECUTABLE gzip)
if(HELP2MAN_EXECUTABLE AND GZIP_EXECUTABLE)
  set(SLUICE_MAN_PAGE ${CMAKE_BINARY_DIR}/sluice.1)
  add_custom_command(OUTPUT ${SLUICE_MAN_PAGE} ${SLUICE_MAN_PAGE}.gz
    COMMAND ${CMAKE_COMMAND} -E env SLUICE_BINARY=$<TARGET_FILE:sluice>
            ${HELP2MAN_EXECUTABLE} --no-info --section=1 --name=${PROJECT_DESCRIPTION}
            --include=${CMAKE_SOURCE_DIR}/docs/sluice.h2m --output=${SLUICE_MAN_PAGE}
            ${CMAKE_SOURCE_DIR}/cmake/man_page_help.sh
    COMMAND ${GZIP_EXECUTABLE} -9 -n -f -k ${SLUICE_MAN_PAGE}
    DEPENDS sluice docs/sluice.h2m cmake/man_page_help.sh
    COMMENT "Writing the man page sluice.1 (help2man)"
    VERBATIM)
  add_custom_target(sluice_man ALL DEPENDS ${SLUICE_MAN_PAGE} ${SLUICE_MAN_PAGE}.gz)
  install(FILES ${SLUICE_MAN_PAGE}.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
else()
  message(WARNING "help2man or gzip is missing (scripts/setup.sh installs help2man): no man page is built or installed")
endif()
