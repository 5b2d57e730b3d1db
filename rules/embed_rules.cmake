# Writes OUT, a C++ file holding every SRC_DIR/*.yaml as a raw string,
# returned by the function FUNC (default DefaultRuleFiles; the cluster
# checks of rules/cluster/ are ClusterRuleFiles).
# Run at build time: cmake -DSRC_DIR=... -DOUT=... [-DFUNC=...] -P embed_rules.cmake
if(NOT FUNC)
  set(FUNC DefaultRuleFiles)
endif()
file(GLOB files RELATIVE "${SRC_DIR}" "${SRC_DIR}/*.yaml")
list(SORT files)
set(body "// Generated from ${SRC_DIR}/*.yaml by rules/embed_rules.cmake.\n")
string(APPEND body "#include \"rules/default_rules.h\"\n\nnamespace cvm::rules {\nnamespace {\n")
string(APPEND body "constexpr DefaultRuleFile kFiles[] = {\n")
foreach(f IN LISTS files)
  file(READ "${SRC_DIR}/${f}" text)
  string(FIND "${text}" ")cvmrules\"" clash)
  if(NOT clash EQUAL -1)
    message(FATAL_ERROR "${f} contains the raw string delimiter")
  endif()
  string(APPEND body "    {\"${f}\", R\"cvmrules(${text})cvmrules\"},\n")
endforeach()
string(APPEND body "};\n}  // namespace\n\nstd::span<const DefaultRuleFile> ${FUNC}() { return kFiles; }\n\n}  // namespace cvm::rules\n")
file(WRITE "${OUT}.tmp" "${body}")
file(COPY_FILE "${OUT}.tmp" "${OUT}" ONLY_IF_DIFFERENT)
