//! `{{Column}}` templates, shared by imports (a column of the row) and agent forms (the answer to
//! a question): `{{Name}}` inserts the named value (case-sensitive), other text is a constant,
//! and the two mix (`{{First}} {{Last}}`).

use serde_json::{Map, Value as JsonValue};

/// A piece of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    Text(String),
    /// A `{{Name}}` reference.
    Value(String),
}

/// A parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template(Vec<Part>);

impl Template {
    /// Splits `template` into constant text and `{{Name}}` references.
    pub fn parse(template: &str) -> Result<Self, String> {
        let mut parts = Vec::new();
        let mut rest = template;
        while let Some(start) = rest.find("{{") {
            if start > 0 {
                parts.push(Part::Text(rest[..start].to_owned()));
            }
            let after = &rest[start + 2..];
            let end = after.find("}}").ok_or("has `{{` without `}}`")?;
            let name = &after[..end];
            if name.is_empty() {
                return Err("has an empty `{{}}`".into());
            }
            parts.push(Part::Value(name.to_owned()));
            rest = &after[end + 2..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_owned()));
        }
        Ok(Self(parts))
    }

    /// The names the template refers to.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.iter().filter_map(|part| match part {
            Part::Value(name) => Some(name.as_str()),
            Part::Text(_) => None,
        })
    }

    /// The value the template gives for `values`: a lone `{{Name}}` keeps the value's JSON type;
    /// anything else is text. `None` when it comes out empty (the field is left alone).
    pub fn render(&self, values: &Map<String, JsonValue>) -> Option<JsonValue> {
        if let [Part::Value(name)] = self.0.as_slice() {
            return values.get(name).filter(|value| !value.is_null() && value.as_str() != Some("")).cloned();
        }
        let text: String = self
            .0
            .iter()
            .map(|part| match part {
                Part::Text(text) => text.clone(),
                Part::Value(name) => match values.get(name) {
                    Some(JsonValue::String(text)) => text.clone(),
                    Some(JsonValue::Null) | None => String::new(),
                    Some(other) => other.to_string(),
                },
            })
            .collect();
        (!text.trim().is_empty()).then_some(JsonValue::String(text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(text: &str) -> Template {
        Template::parse(text).expect("template")
    }

    #[test]
    fn templates_split_into_text_and_references() {
        assert_eq!(
            parse("{{First}} {{Last}}").0,
            vec![Part::Value("First".into()), Part::Text(" ".into()), Part::Value("Last".into())]
        );
        assert_eq!(parse("CZ").0, vec![Part::Text("CZ".into())]);
        assert_eq!(parse("{{First}} {{Last}}").names().collect::<Vec<_>>(), ["First", "Last"]);
        assert!(Template::parse("{{Open").is_err());
        assert!(Template::parse("{{}}").is_err());
    }

    #[test]
    fn rendering_keeps_lone_values_and_skips_empty_ones() {
        let row = json!({"Age": 42, "First": "Ann", "Last": "", "Blank": "", "first": "ann"});
        let row = row.as_object().expect("object");
        assert_eq!(parse("{{Age}}").render(row), Some(json!(42)));
        assert_eq!(parse("{{First}} {{Last}}").render(row), Some(json!("Ann ")));
        assert_eq!(parse("{{Blank}}").render(row), None);
        assert_eq!(parse("{{Missing}}").render(row), None);
        assert_eq!(parse("Lead").render(row), Some(json!("Lead")));
        // Names are case-sensitive.
        assert_eq!(parse("{{first}}").render(row), Some(json!("ann")));
    }
}
