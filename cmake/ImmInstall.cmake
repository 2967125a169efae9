# Installation and packaging: the library, its header, immiscible.pc and a CMake package, so that
# users can write either `cc app.c $(pkg-config --cflags --libs immiscible)` or
# `find_package(immiscible)` + `target_link_libraries(app PRIVATE immiscible::immiscible)`.
# Included from the top-level CMakeLists.txt after lib/ has defined the targets.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(IMM_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/immiscible"
    CACHE STRING "Where to install immiscibleConfig.cmake (relative to the prefix)")
mark_as_advanced(IMM_INSTALL_CMAKEDIR)

set(_imm_install_targets immiscible)
if(TARGET immiscible_static)
  list(APPEND _imm_install_targets immiscible_static)
  set(IMM_INSTALLS_STATIC ON)
else()
  set(IMM_INSTALLS_STATIC OFF)
endif()

# --- Library and header ---------------------------------------------------------------------------
install(TARGETS ${_imm_install_targets}
        EXPORT immiscibleTargets
        RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}"
        LIBRARY DESTINATION "${CMAKE_INSTALL_LIBDIR}"
        ARCHIVE DESTINATION "${CMAKE_INSTALL_LIBDIR}"
        INCLUDES DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}")
install(FILES "${PROJECT_SOURCE_DIR}/include/immiscible.h"
        DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}")

# --- pkg-config ---------------------------------------------------------------------------------
# cmake/ImmPkgConfig.cmake says how (the prefix is filled in at install time).
# Only a static link needs these: the shared library already records its own dependencies.
string(STRIP "${OpenMP_C_FLAGS} -lm" IMM_PC_LIBS_PRIVATE)
imm_install_pkgconfig("${PROJECT_SOURCE_DIR}/immiscible.pc.in" immiscible)

# --- CMake package: find_package(immiscible) -> immiscible::immiscible -----------------------------
install(EXPORT immiscibleTargets
        NAMESPACE immiscible::
        FILE immiscibleTargets.cmake
        DESTINATION "${IMM_INSTALL_CMAKEDIR}")
configure_package_config_file("${CMAKE_CURRENT_LIST_DIR}/immiscibleConfig.cmake.in"
                              "${PROJECT_BINARY_DIR}/immiscibleConfig.cmake"
                              INSTALL_DESTINATION "${IMM_INSTALL_CMAKEDIR}")
# Compatibility follows the SONAME (lib/CMakeLists.txt): while the major version is 0, a minor
# release may break the ABI, so find_package(immiscible 0.1) accepts 0.1.x only.
if(PROJECT_VERSION_MAJOR EQUAL 0)
  set(_imm_compatibility SameMinorVersion)
else()
  set(_imm_compatibility SameMajorVersion)
endif()
write_basic_package_version_file("${PROJECT_BINARY_DIR}/immiscibleConfigVersion.cmake"
                                 VERSION "${PROJECT_VERSION}"
                                 COMPATIBILITY ${_imm_compatibility})
install(FILES "${PROJECT_BINARY_DIR}/immiscibleConfig.cmake"
              "${PROJECT_BINARY_DIR}/immiscibleConfigVersion.cmake"
        DESTINATION "${IMM_INSTALL_CMAKEDIR}")
