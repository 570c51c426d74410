/* kernel/exec.h: execve: replacing a process's program. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct trap_frame;
struct mm;
struct process;

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

/* execve of a process that runs on another node (kernel/deputy.c): its deputy builds the new image
 * here, at home, where the files are; kernel/migrate.c ships it; the node it runs on commits it. */
struct exec_image {
    struct mm *mm;
    uint64_t entry, sp;
    char path[256];                 /* as given (after #! resolution): comm */
    char resolved[256];             /* the file itself, for /proc/PID/exe ("" if unknown) */
};
/* Everything do_execve does up to the commit; 0 or -errno (nothing changed). */
int exec_build_image(const char *path, struct exec_args *a, struct exec_image *out);
/* The home side of the commit: close-on-exec files, comm, cmdline, exe of the deputy. */
void exec_commit_home(struct process *p, const struct exec_image *img, const struct exec_args *a);
/* The running side: p (current) takes mm, fresh signal handlers and FPU, registers at entry. */
void exec_commit_remote(struct process *p, struct mm *mm, uint64_t entry, uint64_t sp, struct trap_frame *tf);
