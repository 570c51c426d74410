/*
 * arch/x86/switch.S: the kernel context switch, the first run of a kernel thread, and the safe
 * memory copy used for user pointers and for probing addresses in fault reports.
 */
    .text

/* void context_switch(uint64_t *save_rsp, uint64_t next_rsp): callee-saved registers on the stack. */
    .globl context_switch
context_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    mov %rsp, (%rdi)
    mov %rsi, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret

/* A new thread's stack is built so that context_switch "returns" here with fn in r12, arg in r13. */
    .globl kthread_start
kthread_start:
    mov %r13, %rdi
    mov %r12, %rsi
    xor %ebp, %ebp
    call kthread_entry          /* kthread_entry(arg, fn) never returns */
    ud2

/*
 * long copy_safe(void *dst, const void *src, size_t n): 0 on success, -14 (EFAULT) if either side
 * faults part way. The fault lands on the fixup through the exception table. Eight bytes per
 * iteration, then the tail: under emulation (TCG) rep movsb costs one iteration per byte, and
 * every copy from and to user memory comes here.
 */
    .globl copy_safe
copy_safe:
    mov %rdx, %rcx
    shr $3, %rcx
1:  rep movsq
    mov %rdx, %rcx
    and $7, %rcx
3:  rep movsb
    xor %eax, %eax
    ret
2:  mov $-14, %rax
    ret

    .section __ex_table, "a"
    .align 8
    .quad 1b, 2b
    .quad 3b, 2b
