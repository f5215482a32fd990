//! `entry_points.txt`: the `console_scripts` and `gui_scripts` groups, which installers turn into
//! launcher scripts.
//!
//! Spec: <https://packaging.python.org/en/latest/specifications/entry-points/#file-format>.
//! "This file is written in INI format, as read by `configparser` … with `=` as the only
//! delimiter … Entry point names are case sensitive." A value is an object reference
//! `importable.module:object.attr`, optionally followed by `[extras]` (deprecated, ignored).

use super::error::WheelError;

/// The groups that become launcher scripts. On Linux, `gui_scripts` launchers are the same as
/// `console_scripts` ones (the distinction is Windows' `pythonw`).
const SCRIPT_GROUPS: [&str; 2] = ["console_scripts", "gui_scripts"];

/// One entry of a script group: `name = module:attr`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ScriptEntryPoint {
    pub(crate) group: String,
    /// The launcher's file name.
    pub(crate) name: String,
    pub(crate) module: String,
    /// The dotted path of the callable within `module` (`main`, `cli.main`).
    pub(crate) attr: String,
}

/// The script entry points of an `entry_points.txt`, in file order (a later one of the same name
/// replaces an earlier one's launcher, as it would with pip). Other groups are not looked at,
/// beyond being skipped.
pub(crate) fn script_entry_points(
    wheel: &str,
    text: &str,
) -> Result<Vec<ScriptEntryPoint>, WheelError> {
    let mut entries = Vec::new();
    for (group, name, value) in ini_entries(text) {
        if !SCRIPT_GROUPS.contains(&group.as_str()) {
            continue;
        }
        let invalid = |message: &str| WheelError::InvalidEntryPoint {
            wheel: wheel.to_string(),
            group: group.clone(),
            name: name.clone(),
            value: value.clone(),
            message: message.to_string(),
        };
        if !is_file_name(&name) {
            return Err(invalid("the name must be a plain file name"));
        }
        let (module, attr) = object_reference(&value).map_err(invalid)?;
        entries.push(ScriptEntryPoint {
            group: group.clone(),
            name: name.clone(),
            module,
            attr,
        });
    }
    Ok(entries)
}

/// `(section, key, value)` for each `key = value` line, `configparser`-style: `#` and `;` start
/// comment lines, indented lines continue the previous value.
fn ini_entries(text: &str) -> Vec<(String, String, String)> {
    let mut entries: Vec<(String, String, String)> = Vec::new();
    let mut section = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with(['#', ';']) {
            continue;
        }
        if line.starts_with([' ', '\t']) {
            if let Some((_, _, value)) = entries.last_mut() {
                value.push('\n');
                value.push_str(trimmed);
            }
            continue;
        }
        if let Some(name) = trimmed
            .strip_prefix('[')
            .and_then(|rest| rest.strip_suffix(']'))
        {
            section = name.trim().to_string();
            continue;
        }
        if let Some((key, value)) = trimmed.split_once('=') {
            entries.push((
                section.clone(),
                key.trim().to_string(),
                value.trim().to_string(),
            ));
        }
    }
    entries
}

/// Splits `module:attr [extras]` into `(module, attr)`, checking both are dotted identifiers:
/// they are pasted into the launcher's Python source.
fn object_reference(value: &str) -> Result<(String, String), &'static str> {
    let reference = match value.rfind('[') {
        Some(start) if value.ends_with(']') => value[..start].trim_end(),
        _ => value,
    };
    let (module, attr) = reference
        .split_once(':')
        .ok_or("a script needs a callable, as `module:function`")?;
    let (module, attr) = (module.trim(), attr.trim());
    if !is_dotted_identifier(module) {
        return Err("the module is not a dotted Python name");
    }
    if !is_dotted_identifier(attr) {
        return Err("the callable is not a dotted Python name");
    }
    Ok((module.to_string(), attr.to_string()))
}

fn is_dotted_identifier(text: &str) -> bool {
    text.split('.').all(|part| {
        let mut chars = part.chars();
        chars
            .next()
            .is_some_and(|first| first == '_' || first.is_alphabetic())
            && chars.all(|char| char == '_' || char.is_alphanumeric())
    })
}

/// A name that is one path component and can be typed in a shell.
fn is_file_name(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && !name.contains('/')
        && !name.chars().any(char::is_control)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Vec<(String, String, String)>, WheelError> {
        Ok(script_entry_points("w.whl", text)?
            .into_iter()
            .map(|entry| (entry.name, entry.module, entry.attr))
            .collect())
    }

    #[test]
    fn reads_script_groups() {
        let text = "\
# comment
[console_scripts]
tool = pkg.cli:main
Tool2=pkg:obj.attr [extra1, extra2]
; another comment

[gui_scripts]
gui = pkg.gui : run

[pkg.plugins]
ignored = not valid at all
";
        assert_eq!(
            parse(text).unwrap(),
            [
                ("tool".into(), "pkg.cli".into(), "main".into()),
                ("Tool2".into(), "pkg".into(), "obj.attr".into()),
                ("gui".into(), "pkg.gui".into(), "run".into()),
            ]
        );
    }

    #[test]
    fn refuses_bad_entries() {
        insta::assert_snapshot!(parse("[console_scripts]\ntool = pkg\n").unwrap_err(), @"`w.whl` has an invalid entry point `tool = pkg` in `[console_scripts]`: a script needs a callable, as `module:function`");
        insta::assert_snapshot!(parse("[console_scripts]\n../../etc/x = pkg:main\n").unwrap_err(), @"`w.whl` has an invalid entry point `../../etc/x = pkg:main` in `[console_scripts]`: the name must be a plain file name");
        insta::assert_snapshot!(parse("[gui_scripts]\ntool = os; import evil:main\n").unwrap_err(), @"`w.whl` has an invalid entry point `tool = os; import evil:main` in `[gui_scripts]`: the module is not a dotted Python name");
        assert!(parse("[console_scripts]\ntool = pkg:main()\n").is_err());
        assert!(parse("[console_scripts]\ntool = pkg:\n").is_err());
        assert!(parse("[console_scripts]\ntool = pkg:main\n  continued\n").is_err());
    }
}
