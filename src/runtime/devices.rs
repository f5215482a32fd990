//! The device allow-list: which device nodes a container may create and open. Everyone gets
//! Docker's default list, as `docker run` leaves it in a v1 `devices.list` (runc's
//! `AllowedDevices`): creating any node (`m`), but reading and writing only null, zero,
//! full, random, urandom, tty, console, ptmx, the ptys and tun; not fuse, not the host's
//! disks or `kmsg`. `--gpus` adds its nodes. This is what makes `CAP_MKNOD`, which Docker
//! keeps, harmless: a node can be made but not opened.
//!
//! cgroup v1 takes the rules as text (`devices.deny`, then `devices.allow`); v2 has no device
//! controller and runs an eBPF program of type `BPF_PROG_TYPE_CGROUP_DEVICE` on every open
//! and `mknod` instead, built here from the same rules. Specs:
//! <https://docs.kernel.org/admin-guide/cgroup-v1/devices.html>,
//! <https://docs.kernel.org/admin-guide/cgroup-v2.html#device-controller>; the program's
//! context is `struct bpf_cgroup_dev_ctx` in `include/uapi/linux/bpf.h`.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::FileTypeExt as _;
use std::path::{Path, PathBuf};

/// `BPF_DEVCG_ACC_*`: the access bits, as the kernel passes them to the program.
const MKNOD: u32 = 1;
const READ: u32 = 2;
const WRITE: u32 = 4;
const ALL_ACCESS: u32 = MKNOD | READ | WRITE;

/// What a node is, as `BPF_DEVCG_DEV_*` numbers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DeviceKind {
    Block = 1,
    Char = 2,
}

/// One allowed (type, major, minor, access); `None` numbers match any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DeviceRule {
    kind: DeviceKind,
    major: Option<u32>,
    minor: Option<u32>,
    access: u32,
}

impl DeviceRule {
    const fn char(major: u32, minor: u32) -> Self {
        Self {
            kind: DeviceKind::Char,
            major: Some(major),
            minor: Some(minor),
            access: ALL_ACCESS,
        }
    }

    /// The rule as a v1 `devices.allow` line: `c 1:3 rwm`.
    pub(crate) fn v1_line(&self) -> String {
        let number = |value: Option<u32>| value.map_or("*".to_string(), |n| n.to_string());
        let access: String = [(READ, 'r'), (WRITE, 'w'), (MKNOD, 'm')]
            .into_iter()
            .filter(|(bit, _)| self.access & bit != 0)
            .map(|(_, letter)| letter)
            .collect();
        let kind = match self.kind {
            DeviceKind::Block => 'b',
            DeviceKind::Char => 'c',
        };
        format!(
            "{kind} {}:{} {access}",
            number(self.major),
            number(self.minor)
        )
    }
}

/// Docker's defaults: `mknod` of anything; null 1:3, zero 1:5, full 1:7, random 1:8,
/// urandom 1:9, tty 5:0, console 5:1, ptmx 5:2, tun 10:200 and the ptys 136:*.
pub(crate) const DEFAULT_RULES: [DeviceRule; 12] = [
    DeviceRule {
        kind: DeviceKind::Char,
        major: None,
        minor: None,
        access: MKNOD,
    },
    DeviceRule {
        kind: DeviceKind::Block,
        major: None,
        minor: None,
        access: MKNOD,
    },
    DeviceRule::char(1, 3),
    DeviceRule::char(1, 5),
    DeviceRule::char(1, 7),
    DeviceRule::char(1, 8),
    DeviceRule::char(1, 9),
    DeviceRule::char(5, 0),
    DeviceRule::char(5, 1),
    DeviceRule::char(5, 2),
    DeviceRule::char(10, 200),
    DeviceRule {
        kind: DeviceKind::Char,
        major: Some(136),
        minor: None,
        access: ALL_ACCESS,
    },
];

/// Docker's rules plus full access to each host node in `devices` (the GPUs); a failure
/// names the node.
pub(crate) fn rules_with(
    devices: &[impl AsRef<Path>],
) -> Result<Vec<DeviceRule>, (PathBuf, std::io::Error)> {
    let mut rules = DEFAULT_RULES.to_vec();
    for path in devices {
        let path = path.as_ref();
        let metadata = std::fs::metadata(path).map_err(|error| (path.to_path_buf(), error))?;
        let kind = if metadata.file_type().is_block_device() {
            DeviceKind::Block
        } else if metadata.file_type().is_char_device() {
            DeviceKind::Char
        } else {
            continue;
        };
        let rdev = std::os::unix::fs::MetadataExt::rdev(&metadata);
        rules.push(DeviceRule {
            kind,
            major: Some(nix::sys::stat::major(rdev).try_into().unwrap_or(u32::MAX)),
            minor: Some(nix::sys::stat::minor(rdev).try_into().unwrap_or(u32::MAX)),
            access: ALL_ACCESS,
        });
    }
    Ok(rules)
}

/// One eBPF instruction, `struct bpf_insn`: opcode, registers (dst low nibble, src high),
/// a 16-bit jump offset and a 32-bit immediate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(C)]
pub(crate) struct Instruction {
    code: u8,
    registers: u8,
    offset: i16,
    immediate: i32,
}

// Opcodes used (`include/uapi/linux/bpf.h`, `bpf_common.h`).
/// `dst = *(u32 *)(src + off)`
const LOAD_WORD: u8 = 0x61;
/// `(u32) dst &= imm`
const AND_IMMEDIATE: u8 = 0x54;
/// `(u32) dst >>= imm`
const SHIFT_RIGHT_IMMEDIATE: u8 = 0x74;
/// `(u32) dst = src`
const MOVE_REGISTER: u8 = 0xbc;
/// `dst = imm`
const MOVE_IMMEDIATE: u8 = 0xb7;
/// `if dst != imm goto +off`
const JUMP_NOT_EQUAL_IMMEDIATE: u8 = 0x55;
/// `if dst != src goto +off`
const JUMP_NOT_EQUAL_REGISTER: u8 = 0x5d;
const EXIT: u8 = 0x95;

// Registers: r0 holds the verdict, r1 the context on entry; r2-r5 get its fields.
const R0: u8 = 0;
const R1: u8 = 1;
const TYPE: u8 = 2;
const ACCESS: u8 = 3;
const MAJOR: u8 = 4;
const MINOR: u8 = 5;

const fn instruction(code: u8, dst: u8, src: u8, offset: i16, immediate: i32) -> Instruction {
    Instruction {
        code,
        registers: dst | (src << 4),
        offset,
        immediate,
    }
}

/// The v2 program: 1 (allow) if some rule covers the device and the access asked, else 0.
/// Each rule is a block of checks that jump past the block's end on a mismatch, as runc's
/// `devicefilter` does.
pub(crate) fn program(rules: &[DeviceRule]) -> Vec<Instruction> {
    let mut program = vec![
        // `access_type` is `(access << 16) | type`; then `major` and `minor`.
        instruction(LOAD_WORD, TYPE, R1, 0, 0),
        instruction(AND_IMMEDIATE, TYPE, 0, 0, 0xffff),
        instruction(LOAD_WORD, ACCESS, R1, 0, 0),
        instruction(SHIFT_RIGHT_IMMEDIATE, ACCESS, 0, 0, 16),
        instruction(LOAD_WORD, MAJOR, R1, 4, 0),
        instruction(LOAD_WORD, MINOR, R1, 8, 0),
    ];
    for rule in rules {
        // Each check: the instructions before its jump, and the jump with a placeholder.
        let mut checks: Vec<Vec<Instruction>> = vec![vec![instruction(
            JUMP_NOT_EQUAL_IMMEDIATE,
            TYPE,
            0,
            0,
            rule.kind as i32,
        )]];
        if rule.access != ALL_ACCESS {
            // The access asked must be a subset of the rule's: (asked & allowed) == asked.
            checks.push(vec![
                instruction(MOVE_REGISTER, R1, ACCESS, 0, 0),
                instruction(AND_IMMEDIATE, R1, 0, 0, rule.access.cast_signed()),
                instruction(JUMP_NOT_EQUAL_REGISTER, R1, ACCESS, 0, 0),
            ]);
        }
        for (register, number) in [(MAJOR, rule.major), (MINOR, rule.minor)] {
            if let Some(number) = number {
                checks.push(vec![instruction(
                    JUMP_NOT_EQUAL_IMMEDIATE,
                    register,
                    0,
                    0,
                    number.cast_signed(),
                )]);
            }
        }
        let mut block: Vec<Instruction> = checks.into_iter().flatten().collect();
        block.extend([
            instruction(MOVE_IMMEDIATE, R0, 0, 0, 1),
            instruction(EXIT, 0, 0, 0, 0),
        ]);
        let length = block.len();
        for (index, step) in block.iter_mut().enumerate() {
            if matches!(
                step.code,
                JUMP_NOT_EQUAL_IMMEDIATE | JUMP_NOT_EQUAL_REGISTER
            ) {
                // Past the block: offsets count from the next instruction.
                step.offset = i16::try_from(length - index - 1).unwrap_or(i16::MAX);
            }
        }
        program.extend(block);
    }
    program.extend([
        instruction(MOVE_IMMEDIATE, R0, 0, 0, 0),
        instruction(EXIT, 0, 0, 0, 0),
    ]);
    program
}

const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_ATTACH: libc::c_long = 8;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
/// Let other programs on the path (systemd's, a parent's) run too: all must allow.
const BPF_F_ALLOW_MULTI: u32 = 2;

/// `union bpf_attr` for `BPF_PROG_LOAD`, up to the fields used.
#[repr(C)]
struct ProgramLoad {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
}

/// `union bpf_attr` for `BPF_PROG_ATTACH`.
#[repr(C)]
struct ProgramAttach {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
}

/// Load the program for `rules` and attach it to the v2 cgroup `dir`. The attachment keeps
/// the program alive; it goes with the cgroup.
pub(crate) fn attach_program(dir: &Path, rules: &[DeviceRule]) -> std::io::Result<()> {
    let instructions = program(rules);
    let load = ProgramLoad {
        prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
        insn_cnt: u32::try_from(instructions.len()).unwrap_or(u32::MAX),
        insns: instructions.as_ptr() as u64,
        // No helper is called, so no GPL-only one: any license string loads.
        license: c"MIT OR Apache-2.0".as_ptr() as u64,
        log_level: 0,
        log_size: 0,
        log_buf: 0,
        kern_version: 0,
        prog_flags: 0,
    };
    let program = bpf(BPF_PROG_LOAD, &load)?;
    // SAFETY: the kernel returned a new descriptor that nothing else owns.
    #[expect(unsafe_code, reason = "adopting a descriptor from a raw syscall")]
    let program = unsafe { OwnedFd::from_raw_fd(program) };
    let cgroup = fs_err::File::open(dir)?;
    let attach = ProgramAttach {
        target_fd: cgroup.as_raw_fd().cast_unsigned(),
        attach_bpf_fd: program.as_raw_fd().cast_unsigned(),
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: BPF_F_ALLOW_MULTI,
    };
    bpf(BPF_PROG_ATTACH, &attach).map(|_| ())
}

/// `bpf(2)`, which libc does not wrap.
fn bpf<T>(command: libc::c_long, attr: &T) -> std::io::Result<i32> {
    // SAFETY: `attr` is a properly sized, initialised `repr(C)` prefix of `union bpf_attr`
    // that outlives the call; the pointers in it point at live data.
    #[expect(unsafe_code, reason = "bpf(2) has no wrapper in nix or libc")]
    let result = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            command,
            std::ptr::from_ref(attr),
            size_of::<T>(),
        )
    };
    if result < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(i32::try_from(result).unwrap_or(-1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_default_list_as_v1_lines() {
        let lines: Vec<String> = DEFAULT_RULES.iter().map(DeviceRule::v1_line).collect();
        insta::assert_snapshot!(lines.join("\n"), @r"
        c *:* m
        b *:* m
        c 1:3 rwm
        c 1:5 rwm
        c 1:7 rwm
        c 1:8 rwm
        c 1:9 rwm
        c 5:0 rwm
        c 5:1 rwm
        c 5:2 rwm
        c 10:200 rwm
        c 136:* rwm
        ");
    }

    #[test]
    fn gpu_nodes_are_added() {
        let rules = rules_with(&["/dev/null"]).unwrap();
        assert_eq!(rules.len(), DEFAULT_RULES.len() + 1);
        assert_eq!(rules.last().unwrap().v1_line(), "c 1:3 rwm");
    }

    /// Run the program on a context as the kernel would, to check the jumps.
    fn verdict(
        program: &[Instruction],
        kind: DeviceKind,
        access: u32,
        major: u32,
        minor: u32,
    ) -> u64 {
        let context = [((access << 16) | kind as u32), major, minor];
        let mut registers = [0_u64; 11];
        let mut pc = 0;
        loop {
            let step = program[pc];
            let (dst, src) = (
                usize::from(step.registers & 0xf),
                usize::from(step.registers >> 4),
            );
            let immediate = i64::from(step.immediate).cast_unsigned();
            pc += 1;
            match step.code {
                LOAD_WORD => {
                    registers[dst] = u64::from(context[usize::try_from(step.offset).unwrap() / 4]);
                }
                AND_IMMEDIATE => registers[dst] = (registers[dst] & immediate) & 0xffff_ffff,
                SHIFT_RIGHT_IMMEDIATE => {
                    registers[dst] = (registers[dst] & 0xffff_ffff) >> immediate;
                }
                MOVE_REGISTER => registers[dst] = registers[src] & 0xffff_ffff,
                MOVE_IMMEDIATE => registers[dst] = immediate,
                JUMP_NOT_EQUAL_IMMEDIATE if registers[dst] != immediate => {
                    pc += usize::try_from(step.offset).unwrap();
                }
                JUMP_NOT_EQUAL_REGISTER if registers[dst] != registers[src] => {
                    pc += usize::try_from(step.offset).unwrap();
                }
                JUMP_NOT_EQUAL_IMMEDIATE | JUMP_NOT_EQUAL_REGISTER => {}
                EXIT => return registers[0],
                other => panic!("unexpected opcode {other:#x}"),
            }
        }
    }

    #[test]
    fn program_allows_exactly_the_rules() {
        let program = program(&DEFAULT_RULES);
        let char = DeviceKind::Char;
        assert_eq!(verdict(&program, char, READ | WRITE, 1, 3), 1, "null");
        assert_eq!(verdict(&program, char, READ, 136, 7), 1, "a pty");
        assert_eq!(
            verdict(&program, char, MKNOD, 1, 11),
            1,
            "mknod of anything"
        );
        assert_eq!(verdict(&program, DeviceKind::Block, MKNOD, 8, 0), 1);
        assert_eq!(verdict(&program, char, WRITE, 1, 11), 0, "kmsg");
        assert_eq!(verdict(&program, char, MKNOD | READ, 1, 11), 0);
        assert_eq!(
            verdict(&program, DeviceKind::Block, READ, 8, 0),
            0,
            "a disk"
        );
        assert_eq!(verdict(&program, char, READ, 10, 229), 0, "fuse");
    }

    /// Attaches the program to a real cgroup v2 (the unified mount of a v1 or hybrid host
    /// counts) and checks that a process in it may open `/dev/null` but not `/dev/kmsg`.
    /// Runs only as root where a writable cgroup2 file system is mounted.
    #[test]
    #[expect(clippy::print_stderr, reason = "says why the test did nothing")]
    fn the_kernel_runs_the_program() {
        use std::io::{Read as _, Write as _};
        let Some(root) = ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"]
            .into_iter()
            .map(Path::new)
            .find(|path| {
                nix::sys::statfs::statfs(*path).is_ok_and(|stat| {
                    stat.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC
                })
            })
        else {
            eprintln!("skipped: no cgroup2 file system");
            return;
        };
        let dir = root.join(format!("mlpack-devices-test-{}", std::process::id()));
        if !nix::unistd::geteuid().is_root() || fs_err::create_dir(&dir).is_err() {
            eprintln!("skipped: needs root and a writable `{}`", root.display());
            return;
        }
        let attached = attach_program(&dir, &DEFAULT_RULES);
        let mut child = std::process::Command::new("sh")
            .args(["-c", "read go; (: > /dev/null) 2>/dev/null && echo null; (: > /dev/kmsg) 2>/dev/null && echo kmsg; true"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let moved = fs_err::write(dir.join("cgroup.procs"), child.id().to_string());
        child.stdin.take().unwrap().write_all(b"go\n").unwrap();
        let mut output = String::new();
        child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut output)
            .unwrap();
        child.wait().unwrap();
        fs_err::remove_dir(&dir).unwrap();
        attached.unwrap();
        moved.unwrap();
        assert_eq!(output, "null\n");
    }
}
