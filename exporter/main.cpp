// cvm-preflight: the one binary; every command is in cli.cpp.
#include <iostream>

#include "exporter/cli.h"

int main(int argc, char** argv) {
  return cvm::exporter::RunCli(argc, argv, std::cout, std::cerr);
}
