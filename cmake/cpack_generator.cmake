# cpack_generator.cmake: CPack reads this once per generator (CPACK_PROJECT_CONFIG_FILE). The
# tarball holds the package's tree, etc/ and usr/, under one directory: unpacked anywhere,
# usr/bin/sluice runs in place (its RUNPATH is relative); `tar -C / --strip-components=1 -xzf`
# installs it over / as the .deb would, without dpkg.
if(CPACK_GENERATOR STREQUAL "TGZ")
  set(CPACK_SET_DESTDIR ON)
  cmake_host_system_information(RESULT arch QUERY OS_PLATFORM)
  set(CPACK_PACKAGE_FILE_NAME "sluice-${CPACK_PACKAGE_VERSION}-linux-${arch}")
endif()
