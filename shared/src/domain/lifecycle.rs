//! Lifecycle stages (SPEC §1, seed 002): every customer is at most one of Lead → Prospect →
//! Customer, shown as one of three built-in labels. The account's stage is the truth; the linked
//! contact's `lifecycle` field mirrors it. Pure: which moves a rule or staff may make.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::label::Colour;

/// A lifecycle stage, in the order customers usually pass through them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema)]
pub enum Stage {
    Lead,
    Prospect,
    Customer,
}

impl Stage {
    pub const ALL: [Stage; 3] = [Stage::Lead, Stage::Prospect, Stage::Customer];

    /// The stage's name: its built-in label's and the contact field's value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Lead => "Lead",
            Self::Prospect => "Prospect",
            Self::Customer => "Customer",
        }
    }

    /// The stage a label or field value names, ignoring case (label names are unique ignoring case).
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|stage| stage.as_str().eq_ignore_ascii_case(name.trim()))
    }

    /// The colour a built-in label is created with (admins may change it).
    pub fn default_colour(self) -> Colour {
        let hex = match self {
            Self::Lead => "#9ca3af",
            Self::Prospect => "#f59e0b",
            Self::Customer => "#10b981",
        };
        Colour::parse(hex).unwrap_or_else(|_| unreachable!("a valid built-in colour"))
    }

    pub fn default_description(self) -> &'static str {
        match self {
            Self::Lead => "Lifecycle: registered, nothing asked for yet.",
            Self::Prospect => "Lifecycle: shows interest (e.g. asked for a quote).",
            Self::Customer => "Lifecycle: bought (e.g. a deal won or an invoice paid).",
        }
    }
}

/// Which current stages a move may start from; the move is made in one conditional write, so
/// two movers never both win.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoveFrom {
    /// From no stage at all.
    pub none: bool,
    pub stages: Vec<Stage>,
}

impl MoveFrom {
    /// A rule's move to `to`: from the stages it names, or — naming none — forward only (a
    /// second quote never turns a Customer back into a Prospect).
    pub fn rule(to: Stage, from: &[Stage]) -> Self {
        if from.is_empty() {
            Self { none: true, stages: Stage::ALL.into_iter().filter(|stage| *stage < to).collect() }
        } else {
            Self { none: false, stages: from.iter().copied().filter(|stage| *stage != to).collect() }
        }
    }

    /// A staff member's move (or the contact field's): from anywhere.
    pub fn anywhere() -> Self {
        Self { none: true, stages: Stage::ALL.to_vec() }
    }

    /// Only a customer without a stage (a new customer becoming a Lead).
    pub fn nothing() -> Self {
        Self { none: true, stages: Vec::new() }
    }

    pub fn allows(&self, current: Option<Stage>) -> bool {
        match current {
            None => self.none,
            Some(stage) => self.stages.contains(&stage),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_ignoring_case() {
        assert_eq!(Stage::parse(" prospect "), Some(Stage::Prospect));
        assert_eq!(Stage::parse("CUSTOMER"), Some(Stage::Customer));
        assert_eq!(Stage::parse("Client"), None);
        for stage in Stage::ALL {
            assert_eq!(Stage::parse(stage.as_str()), Some(stage));
            assert_eq!(serde_json::to_value(stage).ok(), Some(serde_json::json!(stage.as_str())));
        }
    }

    #[test]
    fn rules_move_forward_unless_they_name_where_from() {
        let to_prospect = MoveFrom::rule(Stage::Prospect, &[]);
        assert!(to_prospect.allows(None));
        assert!(to_prospect.allows(Some(Stage::Lead)));
        assert!(!to_prospect.allows(Some(Stage::Prospect)), "already there");
        assert!(!to_prospect.allows(Some(Stage::Customer)), "never backwards by default");

        let back_to_lead = MoveFrom::rule(Stage::Lead, &[Stage::Prospect]);
        assert!(back_to_lead.allows(Some(Stage::Prospect)));
        assert!(!back_to_lead.allows(Some(Stage::Customer)));
        assert!(!back_to_lead.allows(None));

        assert!(MoveFrom::anywhere().allows(Some(Stage::Customer)));
        assert!(MoveFrom::nothing().allows(None));
        assert!(!MoveFrom::nothing().allows(Some(Stage::Lead)));
    }
}
