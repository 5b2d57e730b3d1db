# cmake -DIN=file -DOUT=file.cpp -DNAME=symbol -P embed.cmake
# Writes a C++ file defining `extern const unsigned char NAME[]` and
# `extern const unsigned long NAME_size` with the bytes of IN.
file(READ "${IN}" hex HEX)
string(LENGTH "${hex}" n)
math(EXPR size "${n} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
string(REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)" "\\1\n" bytes "${bytes}")
file(WRITE "${OUT}.tmp" "// Generated from ${IN} by embed.cmake.\n"
  "extern const unsigned char ${NAME}[];\nextern const unsigned long ${NAME}_size;\n"
  "alignas(16) const unsigned char ${NAME}[] = {\n${bytes}\n};\n"
  "const unsigned long ${NAME}_size = ${size};\n")
file(RENAME "${OUT}.tmp" "${OUT}")
