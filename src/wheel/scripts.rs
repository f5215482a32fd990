//! Scripts the installer writes or edits: launchers for script entry points, and the `#!python`
//! shebang of `.data/scripts` files.
//!
//! Wheel spec, step 2.c: "If applicable, update scripts starting with `#!python` to point to the
//! correct interpreter." The launcher text is the one pip (and uv) write, so tools that inspect
//! installed scripts see what they expect.

use super::entry_points::ScriptEntryPoint;
use super::error::WheelError;

/// Linux reads at most 127 bytes of a `#!` line before 5.1; distlib keeps to that.
const MAX_SHEBANG: usize = 127;

/// Checks that `python` can stand on a `#!` line by itself.
pub(crate) fn check_interpreter(python: &str) -> Result<(), WheelError> {
    let usable = python.starts_with('/')
        && !python
            .chars()
            .any(|char| char.is_whitespace() || char.is_control())
        && python.len() + 2 <= MAX_SHEBANG;
    if usable {
        Ok(())
    } else {
        Err(WheelError::InvalidInterpreter {
            python: python.to_string(),
        })
    }
}

/// The launcher for a script entry point: import the callable and exit with what it returns.
pub(crate) fn launcher(python: &str, entry: &ScriptEntryPoint) -> String {
    let import_name = entry
        .attr
        .split_once('.')
        .map_or(entry.attr.as_str(), |(first, _)| first);
    format!(
        r#"#!{python}
# -*- coding: utf-8 -*-
import re
import sys
from {module} import {import_name}
if __name__ == "__main__":
    sys.argv[0] = re.sub(r"(-script\.pyw|\.exe)?$", "", sys.argv[0])
    sys.exit({attr}())
"#,
        module = entry.module,
        attr = entry.attr,
    )
}

/// `contents` with a first line of `#!python` (or `#!pythonw`, `#!python3`, … as pip matches a
/// prefix) pointed at `python`, keeping any arguments; other files are returned as they are.
pub(crate) fn rewrite_shebang(python: &str, contents: Vec<u8>) -> Vec<u8> {
    if !contents.starts_with(b"#!python") {
        return contents;
    }
    let line_end = contents
        .iter()
        .position(|byte| *byte == b'\n')
        .map_or(contents.len(), |index| index + 1);
    let line = contents[..line_end]
        .strip_suffix(b"\n")
        .unwrap_or(&contents[..line_end]);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    // The interpreter is the first word; what follows (` -u`) are its arguments.
    let arguments_start = line
        .iter()
        .position(u8::is_ascii_whitespace)
        .unwrap_or(line.len());
    let mut rewritten = format!("#!{python}").into_bytes();
    rewritten.extend_from_slice(&line[arguments_start..]);
    rewritten.push(b'\n');
    rewritten.extend_from_slice(&contents[line_end..]);
    rewritten
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shebangs() {
        let rewrite = |text: &str| {
            String::from_utf8(rewrite_shebang(
                "/usr/bin/python3",
                text.as_bytes().to_vec(),
            ))
            .unwrap()
        };
        assert_eq!(
            rewrite("#!python\nprint(1)\n"),
            "#!/usr/bin/python3\nprint(1)\n"
        );
        assert_eq!(
            rewrite("#!pythonw -u\r\nx\r\n"),
            "#!/usr/bin/python3 -u\nx\r\n"
        );
        assert_eq!(rewrite("#!python3.11"), "#!/usr/bin/python3\n");
        assert_eq!(rewrite("#!/bin/sh\necho\n"), "#!/bin/sh\necho\n");
        assert_eq!(rewrite(""), "");
    }

    #[test]
    fn interpreters() {
        assert!(check_interpreter("/usr/bin/python3").is_ok());
        assert!(check_interpreter("python3").is_err());
        assert!(check_interpreter("/opt/my python/bin/python").is_err());
        assert!(check_interpreter(&format!("/{}", "p".repeat(130))).is_err());
    }
}
