//! Agent forms (SPEC §6, seed 004): call scripts and surveys of a project whose answers land in
//! contact fields — per question ("CRM integration": `contact_field`) and per form through a
//! `data` mapping in the import's convention (`{{Question}}` inserts an answer, other text is a
//! constant). Pure: a form is checked against the project's contact fields here, and a
//! submission's answers are checked and turned into field values here.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};
use ulid::Ulid;
use utoipa::ToSchema;

use crate::criteria::{FieldSchema, FieldType, Value};
use crate::domain::contact_fields::{ContactField, ModuleSchema};
use crate::domain::modules::{self, MAX_TEXT_CHARS, parse_field};
use crate::error::FieldError;
use crate::records::template::Template;

pub const MAX_NAME_CHARS: usize = 120;
pub const MAX_QUESTIONS: usize = 100;
pub const MAX_OPTIONS: usize = 50;
pub const MAX_QUESTION_ID_CHARS: usize = 64;
pub const MAX_MAPPINGS: usize = 50;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum QuestionType {
    Text,
    Number,
    Choice,
    MultiChoice,
    Date,
    Bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Question {
    /// Unique within the form; `{{id}}` in the `data` mapping inserts its answer (case-sensitive).
    pub id: String,
    pub text: String,
    #[serde(rename = "type")]
    pub kind: QuestionType,
    /// For `choice` and `multi_choice`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
    #[serde(default)]
    pub required: bool,
    /// The contact field the answer is written to (for a choice, the chosen option's text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact_field: Option<String>,
}

/// A form as admins write it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FormDefinition {
    #[schema(min_length = 1, max_length = 120, pattern = "\\S")]
    pub name: String,
    #[schema(value_type = String, pattern = "^[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub project_id: Ulid,
    #[schema(min_items = 1, max_items = 100)]
    pub questions: Vec<Question>,
    /// Contact field → template: `{{Question}}` inserts an answer, other text is a constant.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub data: BTreeMap<String, String>,
}

/// A form that passed validation against its project's contact fields.
#[derive(Debug, Clone)]
pub struct ValidForm {
    pub definition: FormDefinition,
    data: Vec<(String, Template)>,
}

impl FormDefinition {
    /// Checks the form against the contact fields its project's staff see (`custom`: every
    /// custom field; those of other projects can't be bound), collecting every error with its
    /// path (`questions[2].contact_field`, `data.Full name`).
    pub fn validate(self, custom: &[ContactField]) -> Result<ValidForm, Vec<FieldError>> {
        let mut errors = Vec::new();
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
            errors.push(FieldError::new("name", format!("must be 1 to {MAX_NAME_CHARS} characters")));
        }
        let schema = ModuleSchema::for_staff(modules::contacts(), custom, &[self.project_id], false);
        if self.questions.is_empty() || self.questions.len() > MAX_QUESTIONS {
            errors.push(FieldError::new("questions", format!("must hold 1 to {MAX_QUESTIONS} questions")));
        }
        let mut ids = BTreeSet::new();
        for (index, question) in self.questions.iter().enumerate() {
            let path = |field: &str| format!("questions[{index}].{field}");
            let id_ok = !question.id.is_empty()
                && question.id.chars().count() <= MAX_QUESTION_ID_CHARS
                && question.id.chars().all(|c| c.is_alphanumeric() || matches!(c, ' ' | '_' | '-'))
                && question.id.trim() == question.id;
            if !id_ok {
                errors.push(FieldError::new(
                    path("id"),
                    format!("must be 1 to {MAX_QUESTION_ID_CHARS} letters, digits, spaces, _ or -"),
                ));
            } else if !ids.insert(question.id.as_str()) {
                errors.push(FieldError::new(path("id"), "repeats another question's id"));
            }
            if question.text.trim().is_empty() || question.text.chars().count() > MAX_TEXT_CHARS {
                errors
                    .push(FieldError::new(path("text"), format!("must be 1 to {MAX_TEXT_CHARS} characters")));
            }
            let has_options = matches!(question.kind, QuestionType::Choice | QuestionType::MultiChoice);
            let distinct: BTreeSet<&String> = question.options.iter().collect();
            if has_options
                && (question.options.is_empty()
                    || question.options.len() > MAX_OPTIONS
                    || distinct.len() != question.options.len()
                    || question.options.iter().any(|option| option.trim().is_empty()))
            {
                errors.push(FieldError::new(
                    path("options"),
                    format!("must list 1 to {MAX_OPTIONS} distinct options"),
                ));
            } else if !has_options && !question.options.is_empty() {
                errors.push(FieldError::new(path("options"), "apply to choice questions only"));
            }
            if let Some(field) = &question.contact_field
                && let Err(message) =
                    bindable(&schema, field).and_then(|field_type| holds(field_type, question))
            {
                errors.push(FieldError::new(path("contact_field"), message));
            }
        }
        let mut data = Vec::new();
        if self.data.len() > MAX_MAPPINGS {
            errors.push(FieldError::new("data", format!("must map at most {MAX_MAPPINGS} fields")));
        }
        for (field, text) in &self.data {
            let path = format!("data.{field}");
            let field_type = match bindable(&schema, field) {
                Ok(field_type) => field_type,
                Err(message) => {
                    errors.push(FieldError::new(path, message));
                    continue;
                }
            };
            match Template::parse(text) {
                Err(message) => errors.push(FieldError::new(path, message)),
                Ok(template) => {
                    let unknown: Vec<&str> = template.names().filter(|name| !ids.contains(name)).collect();
                    if let Some(name) = unknown.first() {
                        errors.push(FieldError::new(
                            path,
                            format!(
                                "names {{{{{name}}}}}, not a question of the form (ids are case-sensitive)"
                            ),
                        ));
                    } else if template.names().next().is_none()
                        && let Err(message) = parse_field(field_type, &Json::String(text.clone()))
                    {
                        errors.push(FieldError::new(path, format!("the constant {message}")));
                    } else {
                        data.push((field.clone(), template));
                    }
                }
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(ValidForm { definition: self, data })
    }
}

/// A contact field a form of the project may write: one its staff see, and not a masked
/// unique one (agents could not write it blind: a clash would reveal another contact's value).
fn bindable<'a>(schema: &'a ModuleSchema<'_>, field: &str) -> Result<&'a FieldType, String> {
    let field_type = schema
        .field_type(field)
        .ok_or_else(|| format!("{field} is not a contact field of the form's project"))?;
    if field == "owner_id" || field == "contact_id" {
        return Err(format!("{field} can't be filled by a form"));
    }
    if schema.custom_field(field).is_some_and(|custom| custom.masked && custom.unique) {
        return Err(format!("{field} is masked and unique: agents can't write it blind"));
    }
    Ok(field_type)
}

/// Whether a field of `field_type` can hold every answer of `question`.
fn holds(field_type: &FieldType, question: &Question) -> Result<(), String> {
    let fits = match (question.kind, field_type) {
        (QuestionType::Text, FieldType::Text | FieldType::Email | FieldType::Phone) => true,
        (QuestionType::Number, FieldType::Number) => true,
        (QuestionType::Date, FieldType::Date) => true,
        (QuestionType::Bool, FieldType::Bool) => true,
        (QuestionType::MultiChoice, FieldType::List) => true,
        (QuestionType::Choice, FieldType::Text) => true,
        (QuestionType::Choice, FieldType::Select { .. }) => {
            return question
                .options
                .iter()
                .find(|option| parse_field(field_type, &Json::String((*option).clone())).is_err())
                .map_or(Ok(()), |option| {
                    Err(format!("can't hold the option {option:?}: not one of the field's choices"))
                });
        }
        _ => false,
    };
    if fits {
        Ok(())
    } else {
        Err(format!("its type can't hold a {:?} answer", question.kind).to_lowercase())
    }
}

impl ValidForm {
    /// Checks every answer (`answers`: question id → value) and gives the contact field
    /// values they fill — bound questions, then the `data` mapping — or every problem, by
    /// `answers.<question>` or `data.<field>`.
    pub fn fill(
        &self,
        answers: &Map<String, Json>,
        schema: &ModuleSchema<'_>,
    ) -> Result<BTreeMap<String, Value>, Vec<FieldError>> {
        let mut errors = Vec::new();
        for id in answers.keys() {
            if !self.definition.questions.iter().any(|question| &question.id == id) {
                errors.push(FieldError::new(format!("answers.{id}"), "is not a question of the form"));
            }
        }
        let mut values = BTreeMap::new();
        for question in &self.definition.questions {
            let path = format!("answers.{}", question.id);
            let answer = answers.get(&question.id).filter(|answer| !answer.is_null());
            let Some(answer) = answer else {
                if question.required {
                    errors.push(FieldError::new(path, "is required"));
                }
                continue;
            };
            if let Err(message) = check_answer(question, answer) {
                errors.push(FieldError::new(path, message));
                continue;
            }
            if let Some(field) = &question.contact_field {
                match schema.field_type(field).map(|field_type| parse_field(field_type, answer)) {
                    Some(Ok(value)) => {
                        values.insert(field.clone(), value);
                    }
                    Some(Err(message)) => errors.push(FieldError::new(path, message)),
                    None => errors.push(FieldError::new(path, format!("its field {field} is gone"))),
                }
            }
        }
        for (field, template) in &self.data {
            let Some(rendered) = template.render(answers) else { continue };
            match schema.field_type(field).map(|field_type| parse_field(field_type, &rendered)) {
                Some(Ok(value)) => {
                    values.insert(field.clone(), value);
                }
                Some(Err(message)) => errors.push(FieldError::new(format!("data.{field}"), message)),
                None => errors.push(FieldError::new(format!("data.{field}"), "the field is gone")),
            }
        }
        if errors.is_empty() { Ok(values) } else { Err(errors) }
    }

    /// The contact fields each question's answer fills (its binding, and the `data` entries
    /// naming it): where a submission is shown, an answer is withheld from staff who may not
    /// see one of its fields as the fields are then.
    pub fn fills(&self) -> BTreeMap<String, Vec<String>> {
        let mut fills: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for question in &self.definition.questions {
            if let Some(field) = &question.contact_field {
                fills.entry(question.id.clone()).or_default().push(field.clone());
            }
        }
        for (field, template) in &self.data {
            for name in template.names() {
                fills.entry(name.to_owned()).or_default().push(field.clone());
            }
        }
        fills
    }
}

/// Whether `answer` is an answer to `question` (the field's own parse checks the rest).
fn check_answer(question: &Question, answer: &Json) -> Result<(), String> {
    let option = |value: &Json| {
        value.as_str().is_some_and(|text| question.options.iter().any(|option| option == text))
    };
    match question.kind {
        QuestionType::Text => match answer.as_str() {
            Some(text) if text.chars().count() <= MAX_TEXT_CHARS => Ok(()),
            Some(_) => Err(format!("must be at most {MAX_TEXT_CHARS} characters")),
            None => Err("must be text".into()),
        },
        QuestionType::Number => answer.is_number().then_some(()).ok_or_else(|| "must be a number".into()),
        QuestionType::Bool => answer.is_boolean().then_some(()).ok_or_else(|| "must be true or false".into()),
        QuestionType::Date => answer
            .as_str()
            .and_then(|text| chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").ok())
            .map(|_| ())
            .ok_or_else(|| "must be a date (YYYY-MM-DD)".into()),
        QuestionType::Choice => {
            option(answer).then_some(()).ok_or_else(|| "must be one of the question's options".into())
        }
        QuestionType::MultiChoice => match answer.as_array() {
            Some(chosen) if chosen.iter().all(option) => Ok(()),
            _ => Err("must be a list of the question's options".into()),
        },
    }
}

/// The id a stored submission is known by (its ULID, also the origin `form:<id>` of its write).
pub type SubmissionId = Ulid;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn segment(project: Ulid) -> ContactField {
        ContactField {
            name: "Segment".into(),
            field_type: FieldType::select(["Sales", "Support"]),
            projects: vec![project],
            unique: false,
            masked: false,
        }
    }

    fn form(project: Ulid, data: Json) -> FormDefinition {
        serde_json::from_value(json!({
            "name": "Call script", "project_id": project,
            "questions": [
                {"id": "Name", "text": "Your name?", "type": "text", "required": true},
                {"id": "Seg", "text": "Which team?", "type": "choice", "options": ["Sales", "Support"], "contact_field": "Segment"}
            ],
            "data": data
        }))
        .expect("a form")
    }

    #[test]
    fn the_seed_s_mapping_fills_fields_and_names_are_case_sensitive() {
        let project = Ulid::generate();
        let custom = vec![segment(project)];
        let valid = form(project, json!({"Segment": "Sales", "first_name": "{{Name}}"}))
            .validate(&custom)
            .expect("valid");
        let schema = ModuleSchema::for_staff(modules::contacts(), &custom, &[project], false);
        let answers = json!({"Name": "Ada", "Seg": "Support"});
        let values = valid.fill(answers.as_object().expect("map"), &schema).expect("filled");
        assert_eq!(values.get("first_name"), Some(&Value::String("Ada".into())));
        assert_eq!(
            values.get("Segment"),
            Some(&Value::String("Sales".into())),
            "the mapping's constant comes last"
        );

        let errors = form(project, json!({"first_name": "{{name}}"})).validate(&custom).expect_err("refused");
        assert_eq!(errors[0].field, "data.first_name");
        let missing = valid
            .fill(json!({"Seg": "Nope", "Extra": 1}).as_object().expect("map"), &schema)
            .expect_err("bad");
        let fields: Vec<&str> = missing.iter().map(|error| error.field.as_str()).collect();
        assert_eq!(fields, ["answers.Extra", "answers.Name", "answers.Seg"]);
    }

    #[test]
    fn bindings_must_fit_their_field() {
        let (project, other) = (Ulid::generate(), Ulid::generate());
        let mut secret = segment(project);
        secret.name = "Card".into();
        secret.field_type = FieldType::Text;
        secret.masked = true;
        secret.unique = true;
        let custom = vec![segment(other), secret];
        let errors = form(project, json!({"Card": "{{Name}}", "nope": "{{Name}}"}))
            .validate(&custom)
            .expect_err("refused");
        let fields: Vec<&str> = errors.iter().map(|error| error.field.as_str()).collect();
        assert_eq!(fields, ["questions[1].contact_field", "data.Card", "data.nope"], "{errors:?}");
        let mut typed = form(project, json!({}));
        typed.questions[0].kind = QuestionType::Number;
        typed.questions[0].contact_field = Some("first_name".into());
        typed.questions[1].contact_field = None;
        assert_eq!(
            typed.validate(&[]).expect_err("a number into text")[0].field,
            "questions[0].contact_field"
        );
    }
}
