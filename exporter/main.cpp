// cvm-preflight: the one binary; every command is in cli.cpp.
#include <exception>
#include <iostream>

#include "exporter/cli.h"

int main(int argc, char** argv) {
  // No exception ends the process without a clear error: the last guard
  // (issue 18). Exit status 2, as any fatal error.
  try {
    return cvm::exporter::RunCli(argc, argv, std::cout, std::cerr);
  } catch (const std::exception& e) {
    std::cout.flush();
    std::cerr << "cvm-preflight: internal error: " << e.what() << "\n";
  } catch (...) {
    std::cout.flush();
    std::cerr << "cvm-preflight: internal error (an unknown exception)\n";
  }
  return 2;
}
