//! `HEALTHCHECK` as Docker writes it into the image config (`config.Healthcheck`: `Test`
//! as `["CMD", ...]`, `["CMD-SHELL", "..."]` or `["NONE"]`, durations in nanoseconds,
//! fields left out when unset), from the instruction's flags
//! (<https://docs.docker.com/reference/dockerfile/#healthcheck>).

use crate::dockerfile::{CommandLine, Healthcheck};

/// The `Healthcheck` object, or why a flag is wrong.
pub(super) fn config(check: &Healthcheck) -> Result<serde_json::Value, String> {
    let test = match &check.test {
        None => vec!["NONE".to_string()],
        Some(CommandLine::Exec(args)) => {
            let mut test = vec!["CMD".to_string()];
            test.extend(args.iter().cloned());
            test
        }
        Some(CommandLine::Shell(text)) => vec!["CMD-SHELL".to_string(), text.clone()],
    };
    let mut object = serde_json::Map::new();
    object.insert("Test".to_string(), test.into());
    for flag in &check.flags {
        let value = flag.value.as_deref().unwrap_or_default();
        let (key, parsed) = match flag.name.as_str() {
            "interval" => ("Interval", duration(value)?),
            "timeout" => ("Timeout", duration(value)?),
            "start-period" => ("StartPeriod", duration(value)?),
            "start-interval" => ("StartInterval", duration(value)?),
            "retries" => (
                "Retries",
                value
                    .parse()
                    .map_err(|_| format!("`--retries={value}`: expected a whole number"))?,
            ),
            other => return Err(format!("unknown flag `--{other}`")),
        };
        if parsed != 0 {
            object.insert(key.to_string(), parsed.into());
        }
    }
    Ok(serde_json::Value::Object(object))
}

/// A Go duration (`30s`, `1m30s`, `1.5h`, `500ms`) in nanoseconds.
fn duration(text: &str) -> Result<u64, String> {
    let bad = || format!("`{text}`: expected a duration such as `30s` or `1m30s`");
    let mut rest = text;
    let mut total = 0.0_f64;
    if rest == "0" {
        return Ok(0);
    }
    while !rest.is_empty() {
        let number_end = rest
            .find(|ch: char| !ch.is_ascii_digit() && ch != '.')
            .ok_or_else(bad)?;
        let number: f64 = rest[..number_end].parse().map_err(|_| bad())?;
        rest = &rest[number_end..];
        let unit_end = rest
            .find(|ch: char| ch.is_ascii_digit() || ch == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_end] {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return Err(bad()),
        };
        total += number * scale;
        rest = &rest[unit_end..];
    }
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "a positive duration in nanoseconds, rounded"
    )]
    Ok(total.round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dockerfile::Flag;

    #[test]
    fn written_as_docker_writes_it() {
        let flag = |name: &str, value: &str| Flag {
            name: name.to_string(),
            value: Some(value.to_string()),
        };
        let check = Healthcheck {
            flags: vec![
                flag("interval", "1m30s"),
                flag("timeout", "500ms"),
                flag("retries", "3"),
            ],
            test: Some(CommandLine::Shell("curl -f http://localhost/".to_string())),
        };
        assert_eq!(
            config(&check).unwrap(),
            serde_json::json!({"Test": ["CMD-SHELL", "curl -f http://localhost/"], "Interval": 90_000_000_000_u64, "Timeout": 500_000_000, "Retries": 3})
        );
        let none = Healthcheck {
            flags: Vec::new(),
            test: None,
        };
        assert_eq!(
            config(&none).unwrap(),
            serde_json::json!({"Test": ["NONE"]})
        );
        assert!(duration("5x").is_err());
        assert_eq!(duration("1.5h").unwrap(), 5_400_000_000_000);
    }
}
