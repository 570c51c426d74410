/* kernel/exec.h: execve: replacing a process's program. */
#pragma once
#include <stddef.h>

struct trap_frame;

/* Arguments and environment gathered into one kernel buffer before the old image goes away. */
struct exec_args {
    char *buf;              /* argv strings then envp strings, each NUL-terminated */
    size_t used, size;
    int argc, envc;
};

#define EXEC_ARGS_MAX (256 * 1024)

int exec_args_from_user(struct exec_args *a, const char *const *uargv, const char *const *uenvp);
int exec_args_from_kernel(struct exec_args *a, char *const argv[], char *const envp[]);
void exec_args_free(struct exec_args *a);
/* Loads path into the current process and points tf at its entry. Consumes nothing of a;
 * returns 0 (the new program runs on return to user mode) or -errno (the old one continues). */
int do_execve(const char *path, struct exec_args *a, struct trap_frame *tf);
