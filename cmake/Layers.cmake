# The layer rule: dependencies point one way.
#
#   apps      the `sparsegate` binary and the offline jobs          may use every layer below
#   service   difficulty_service/service: metrics, batcher, server   may use core, proto
#   plugin    trainer_plugin: client, predictor, policy, hints, Gate may use core, proto
#   core      difficulty_service/core: checkpoint, tokenizer, model, may use core only
#             features, engine
#   proto     the generated API                                      may use proto only
#
# service and plugin are siblings: neither links the other. Every sparsegate library declares its
# layer with sg_layer(); sg_check_layers(), run once all targets exist, stops the configure step
# when a library links a layer it may not, or a sparsegate target declares none. It also writes
# <build>/layers.json (folder -> layer, and the rule) for the test that checks #include lines.

set(SG_LAYERS proto core plugin service apps)
set(SG_LAYER_ALLOWS_proto proto)
set(SG_LAYER_ALLOWS_core core)
set(SG_LAYER_ALLOWS_plugin plugin core proto)
set(SG_LAYER_ALLOWS_service service core proto)
set(SG_LAYER_ALLOWS_apps apps service plugin core proto)

function(sg_layer target layer)
  if(NOT layer IN_LIST SG_LAYERS)
    message(FATAL_ERROR "sg_layer(${target} ${layer}): no such layer; layers are ${SG_LAYERS}")
  endif()
  set_property(TARGET ${target} PROPERTY SG_LAYER ${layer})
  set_property(GLOBAL APPEND PROPERTY SG_LAYERED_TARGETS ${target})
endfunction()

# The sparsegate libraries a target links directly (imported and generator-expression entries are
# other projects' and are skipped).
function(_sg_direct_links target out)
  set(links)
  get_target_property(type ${target} TYPE)
  if(NOT type STREQUAL "INTERFACE_LIBRARY")
    get_target_property(private ${target} LINK_LIBRARIES)
    if(private)
      list(APPEND links ${private})
    endif()
  endif()
  get_target_property(public ${target} INTERFACE_LINK_LIBRARIES)
  if(public)
    list(APPEND links ${public})
  endif()
  set(ours)
  foreach(lib IN LISTS links)
    if(TARGET "${lib}")
      get_target_property(imported ${lib} IMPORTED)
      if(NOT imported)
        list(APPEND ours ${lib})
      endif()
    endif()
  endforeach()
  list(REMOVE_DUPLICATES ours)
  set(${out} ${ours} PARENT_SCOPE)
endfunction()

# The layer a product folder stands for: the folders show the layers, so a library declaring another
# layer than its folder's is an error. Folders outside these (tests/) may declare any layer.
function(_sg_folder_layer rel out)
  set(layer "")
  if(rel MATCHES "^difficulty_service/(core|service)(/|$)")
    set(layer ${CMAKE_MATCH_1})
  elseif(rel MATCHES "^trainer_plugin(/|$)")
    set(layer plugin)
  elseif(rel MATCHES "^(apps|proto)(/|$)")
    set(layer ${CMAKE_MATCH_1})
  endif()
  set(${out} ${layer} PARENT_SCOPE)
endfunction()

# `prefix` names the project's own targets (sg_ for sparsegate); a target of ours without a layer
# is an error, so a new library cannot slip past the rule.
function(sg_check_layers prefix)
  get_property(targets GLOBAL PROPERTY SG_LAYERED_TARGETS)
  set(folders)
  foreach(target IN LISTS targets)
    get_target_property(layer ${target} SG_LAYER)
    _sg_direct_links(${target} deps)
    foreach(dep IN LISTS deps)
      get_target_property(dep_layer ${dep} SG_LAYER)
      if(NOT dep_layer)
        string(FIND "${dep}" "${prefix}" at)
        if(at EQUAL 0)
          message(FATAL_ERROR "layers: ${target} links ${dep}, which declares no layer (sg_layer)")
        endif()
        continue()
      endif()
      if(NOT dep_layer IN_LIST SG_LAYER_ALLOWS_${layer})
        message(FATAL_ERROR "layers: ${target} (${layer}) links ${dep} (${dep_layer}); "
                            "${layer} may use only: ${SG_LAYER_ALLOWS_${layer}} (cmake/Layers.cmake)")
      endif()
    endforeach()
    get_target_property(dir ${target} SOURCE_DIR)
    file(RELATIVE_PATH rel ${PROJECT_SOURCE_DIR} ${dir})
    _sg_folder_layer("${rel}" folder_layer)
    if(folder_layer AND NOT folder_layer STREQUAL layer)
      message(FATAL_ERROR "layers: ${target} is in ${rel}, a ${folder_layer} folder, but declares layer ${layer}")
    endif()
    list(APPEND folders "\"${rel}\": \"${layer}\"")
  endforeach()
  list(REMOVE_DUPLICATES folders)
  list(JOIN folders ",\n    " folder_lines)
  set(rules)
  foreach(layer IN LISTS SG_LAYERS)
    list(TRANSFORM SG_LAYER_ALLOWS_${layer} PREPEND "\"" OUTPUT_VARIABLE quoted)
    list(TRANSFORM quoted APPEND "\"")
    list(JOIN quoted ", " allowed)
    list(APPEND rules "\"${layer}\": [${allowed}]")
  endforeach()
  list(JOIN rules ",\n    " rule_lines)
  file(WRITE ${CMAKE_BINARY_DIR}/layers.json
       "{\n  \"folders\": {\n    ${folder_lines}\n  },\n  \"allows\": {\n    ${rule_lines}\n  }\n}\n")
endfunction()
