/*
 * arch/x86/entry.S: interrupt and exception entry stubs and the common path to trap_dispatch().
 * Every vector pushes a uniform frame (struct trap_frame in trap.h): a dummy error code where the
 * CPU pushes none, the vector number, then all general registers.
 */
    .text

/* The general registers, in struct trap_frame's order (r15 ends up lowest). */
.macro SAVE_REGS
    pushq %rax
    pushq %rbx
    pushq %rcx
    pushq %rdx
    pushq %rsi
    pushq %rdi
    pushq %rbp
    pushq %r8
    pushq %r9
    pushq %r10
    pushq %r11
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
.endm

.macro STUB vec
    .align 16
isr_\vec:
    .if (\vec == 8) || (\vec >= 10 && \vec <= 14) || (\vec == 17) || (\vec == 21) || (\vec == 29) || (\vec == 30)
    .else
    pushq $0
    .endif
    pushq $\vec
    jmp trap_common
.endm

    .altmacro
.set i, 0
.rept 256
    STUB %i
    .set i, i + 1
.endr

trap_common:
    cld
    SAVE_REGS
    /* From ring 3, switch to the kernel's GS base (per-CPU data comes later, keep the swap symmetric). */
    testb $3, 18*8(%rsp)
    jz 1f
    swapgs
1:  mov %rsp, %rdi
    /* A frame pointer chain that ends here lets backtraces walk from the handler into the trapped code. */
    pushq 17*8(%rsp)            /* rip of the trapped code as a return address */
    pushq %rbp
    mov %rsp, %rbp
    call trap_dispatch
    add $16, %rsp
    .globl trap_return
trap_return:
    cli                         /* no interrupt between swapgs and iretq */
    testb $3, 18*8(%rsp)
    jz 2f
    swapgs
2:  popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %r11
    popq %r10
    popq %r9
    popq %r8
    popq %rbp
    popq %rdi
    popq %rsi
    popq %rdx
    popq %rcx
    popq %rbx
    popq %rax
    add $16, %rsp               /* vector and error code */
    iretq

    .section .rodata
    .align 8
    .globl isr_table
isr_table:
.macro ENTRY_ADDR vec
    .quad isr_\vec
.endm
.set i, 0
.rept 256
    ENTRY_ADDR %i
    .set i, i + 1
.endr
    .noaltmacro

/*
 * syscall_entry: the `syscall` instruction lands here with user rsp, rip in rcx, rflags in r11,
 * interrupts masked by SFMASK. We build the same frame as an interrupt from ring 3 would, so
 * signals, fork and execve handle one kind of frame, and leave through trap_return (iretq).
 */
    .text
    .globl syscall_entry
syscall_entry:
    swapgs
    mov %rsp, %gs:8             /* percpu.user_rsp */
    mov %gs:0, %rsp             /* percpu.kernel_rsp */
    pushq $0x1b                 /* USER_DS */
    pushq %gs:8
    pushq %r11
    pushq $0x23                 /* USER_CS */
    pushq %rcx
    pushq $0                    /* error code */
    pushq $0x100                /* "vector": a system call */
    SAVE_REGS
    mov %rsp, %rdi
    xor %ebp, %ebp
    call syscall_dispatch
    jmp trap_return

/* ret_to_user(struct trap_frame *tf): start (or resume) user mode from a frame on this stack. */
    .globl ret_to_user
ret_to_user:
    mov %rdi, %rsp
    jmp trap_return
