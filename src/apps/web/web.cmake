# The web UI (index.html, app.css, app.js, ...) is compiled into pj_server as a generated .cpp, so the
# binary serves it with nothing fetched from disk or the network.
set(pj_web_dir ${CMAKE_SOURCE_DIR}/src/apps/web)
file(GLOB pj_web_files CONFIGURE_DEPENDS ${pj_web_dir}/*.html ${pj_web_dir}/*.css ${pj_web_dir}/*.js ${pj_web_dir}/*.svg)
set(pj_web_cpp ${CMAKE_BINARY_DIR}/generated/web_assets.cpp)
string(REPLACE ";" "|" pj_web_list "${pj_web_files}")  # one shell word
add_custom_command(
  OUTPUT ${pj_web_cpp}
  COMMAND ${CMAKE_COMMAND} -DOUT=${pj_web_cpp} "-DFILES=${pj_web_list}" -P ${pj_web_dir}/embed.cmake
  DEPENDS ${pj_web_files} ${pj_web_dir}/embed.cmake
  COMMENT "Embedding the web UI"
  VERBATIM)
target_sources(pj_server PRIVATE ${pj_web_cpp})
