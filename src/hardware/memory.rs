//! The host's memory, from `/proc/meminfo` (proc(5)): for `/dev/shm`'s default size and the
//! run record's host facts.

/// `MemTotal`, in bytes; `None` when `/proc/meminfo` cannot be read or parsed.
pub fn total_memory_bytes() -> Option<u64> {
    let text = fs_err::read_to_string("/proc/meminfo").ok()?;
    memtotal_kib(&text).map(|kib| kib * 1024)
}

fn memtotal_kib(meminfo: &str) -> Option<u64> {
    let rest = meminfo
        .lines()
        .find_map(|line| line.strip_prefix("MemTotal:"))?;
    rest.trim().trim_end_matches("kB").trim().parse().ok()
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_memtotal_in_kib() {
        let text = "MemTotal:       16318020 kB\nMemFree:         1000 kB\n";
        assert_eq!(super::memtotal_kib(text), Some(16_318_020));
        assert_eq!(super::memtotal_kib("MemFree: 1 kB\n"), None);
    }
}
