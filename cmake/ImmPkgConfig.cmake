# imm_install_pkgconfig(TEMPLATE NAME): configures TEMPLATE (a .pc.in using @IMM_PC_PREFIX@,
# @IMM_PC_LIBDIR@, @IMM_PC_INCLUDEDIR@ and whatever else the caller has set) into NAME.pc and
# installs it. @ONLY, like zstd's, in two steps: everything but the prefix now, the prefix at
# install time, so that `cmake --install build --prefix DIR` writes a .pc that points into DIR
# (a prefix frozen at configure time would point at /usr/local instead).
function(imm_install_pkgconfig template name)
  foreach(_dir LIBDIR INCLUDEDIR)
    if(IS_ABSOLUTE "${CMAKE_INSTALL_${_dir}}")
      set(IMM_PC_${_dir} "${CMAKE_INSTALL_${_dir}}")
    else()
      set(IMM_PC_${_dir} "\${prefix}/${CMAKE_INSTALL_${_dir}}")
    endif()
  endforeach()
  set(IMM_PC_PREFIX "@IMM_PC_PREFIX@") # kept as a placeholder for the install step
  set(_pc "${PROJECT_BINARY_DIR}/pkgconfig/${name}.pc")
  configure_file("${template}" "${_pc}.in" @ONLY)
  install(CODE "
    set(IMM_PC_PREFIX \"\${CMAKE_INSTALL_PREFIX}\")
    configure_file(\"${_pc}.in\" \"${_pc}\" @ONLY)")
  install(FILES "${_pc}" DESTINATION "${CMAKE_INSTALL_LIBDIR}/pkgconfig")
endfunction()
