package loader

// Test-only programs (bpf/testprogs.c); bpf2go names the output *_test.go after this file.

//go:generate go tool bpf2go -cc clang-14 -strip llvm-strip-14 -cflags "-O2 -g -Wall -Werror" testprogs ../bpf/testprogs.c
