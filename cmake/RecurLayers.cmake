# Layered libraries with enforced include direction.
#
# recur_add_layer(NAME [DEPENDS LAYER...]) builds src/NAME/*.cpp into the static library
# recur_NAME. The layer compiles against a staged include tree (symbolic links in the build
# folder) that holds only its own headers and those of the layers it depends on, directly or not:
#   <build>/layers/NAME/public/recur/<layer>  -> include/recur/<layer>   (public headers)
#   <build>/layers/NAME/private/<layer>       -> src/<layer>             (private headers)
# so `#include "recur/lm/trainer.h"` inside src/nn/ is a compile error, not a silent cycle.
set(RECUR_LAYERS "")
set(RECUR_STAGE_ROOT ${PROJECT_BINARY_DIR}/layers)

function(_recur_stage_links stage_dir closure)
  foreach(layer ${closure})
    if(EXISTS ${PROJECT_SOURCE_DIR}/include/recur/${layer})
      file(MAKE_DIRECTORY ${stage_dir}/public/recur)
      file(CREATE_LINK ${PROJECT_SOURCE_DIR}/include/recur/${layer} ${stage_dir}/public/recur/${layer} SYMBOLIC)
    endif()
    if(EXISTS ${PROJECT_SOURCE_DIR}/src/${layer})
      file(MAKE_DIRECTORY ${stage_dir}/private)
      file(CREATE_LINK ${PROJECT_SOURCE_DIR}/src/${layer} ${stage_dir}/private/${layer} SYMBOLIC)
    endif()
  endforeach()
endfunction()

function(recur_add_layer name)
  cmake_parse_arguments(ARG "" "" "DEPENDS" ${ARGN})
  set(closure ${name})
  foreach(dep ${ARG_DEPENDS})
    list(APPEND closure ${RECUR_CLOSURE_${dep}})
  endforeach()
  list(REMOVE_DUPLICATES closure)
  set(RECUR_CLOSURE_${name} ${closure} CACHE INTERNAL "")

  set(stage ${RECUR_STAGE_ROOT}/${name})
  file(REMOVE_RECURSE ${stage})
  _recur_stage_links(${stage} "${closure}")

  file(GLOB_RECURSE sources CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/src/${name}/*.cpp)
  add_library(recur_${name} STATIC ${sources})
  add_library(recur::${name} ALIAS recur_${name})
  target_include_directories(recur_${name}
    PUBLIC $<BUILD_INTERFACE:${stage}/public> $<INSTALL_INTERFACE:include>
    PRIVATE ${stage}/private)
  foreach(dep ${ARG_DEPENDS})
    target_link_libraries(recur_${name} PUBLIC recur_${dep})
  endforeach()
  set_target_properties(recur_${name} PROPERTIES EXPORT_NAME ${name})

  set(RECUR_LAYERS ${RECUR_LAYERS} recur_${name} PARENT_SCOPE)
  # Everything above the library (tools, tests, benchmarks) sees every layer.
  set(all ${RECUR_STAGE_ALL_LAYERS} ${name})
  set(RECUR_STAGE_ALL_LAYERS ${all} CACHE INTERNAL "")
  file(REMOVE_RECURSE ${RECUR_STAGE_ROOT}/all)
  _recur_stage_links(${RECUR_STAGE_ROOT}/all "${all}")
endfunction()

set(RECUR_STAGE_ALL_LAYERS "" CACHE INTERNAL "")
# Private headers of every layer, for the tools, tests and benchmarks that use kernels directly.
set(RECUR_STAGE_ALL_PRIVATE ${RECUR_STAGE_ROOT}/all/private)
