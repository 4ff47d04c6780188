#include "app/cli.h"

int main(int argc, char** argv) {
  return fdr::app::runCli(argc, argv);
}
