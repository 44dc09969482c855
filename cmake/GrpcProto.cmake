# sparsegate_grpc_library(TARGET <name> PROTO_DIR <dir> PROTOS <relative .proto paths>)
# Generates C++ messages and gRPC stubs into the build tree and builds them
# as a static library whose include path is the generated folder.
function(sparsegate_grpc_library)
  cmake_parse_arguments(ARG "" "TARGET;PROTO_DIR" "PROTOS" ${ARGN})
  set(gen_dir ${CMAKE_CURRENT_BINARY_DIR}/gen)
  file(MAKE_DIRECTORY ${gen_dir})
  get_target_property(grpc_plugin gRPC::grpc_cpp_plugin LOCATION)
  set(sources)
  foreach(rel ${ARG_PROTOS})
    string(REGEX REPLACE "\\.proto$" "" stem ${rel})
    set(outs ${gen_dir}/${stem}.pb.cc ${gen_dir}/${stem}.pb.h ${gen_dir}/${stem}.grpc.pb.cc ${gen_dir}/${stem}.grpc.pb.h)
    add_custom_command(
      OUTPUT ${outs}
      COMMAND protobuf::protoc --proto_path=${ARG_PROTO_DIR} --cpp_out=${gen_dir} --grpc_out=${gen_dir}
              --plugin=protoc-gen-grpc=${grpc_plugin} ${ARG_PROTO_DIR}/${rel}
      DEPENDS ${ARG_PROTO_DIR}/${rel} protobuf::protoc
      COMMENT "protoc ${rel}")
    list(APPEND sources ${outs})
  endforeach()
  add_library(${ARG_TARGET} STATIC ${sources})
  target_include_directories(${ARG_TARGET} PUBLIC ${gen_dir})
  target_link_libraries(${ARG_TARGET} PUBLIC protobuf::libprotobuf gRPC::grpc++)
  target_compile_options(${ARG_TARGET} PRIVATE -w)  # generated code is not ours to lint
endfunction()
