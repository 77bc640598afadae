//! Explanations: why criteria hold or not for a record, for the portal preview
//! ("what would this customer see, and why").

use serde::Serialize;
use serde_json::Value as Json;

use super::ast::Op;
use super::compile::{CompiledCriteria, CompiledLeaf, Constant, DateConst, Node, Operand, SetOperand, Test};
use super::eval::EvalContext;
use super::value::Value;

/// The evaluation tree of criteria against one record. Every node says whether it held;
/// unlike evaluation, explaining does not short-circuit, so every leaf is shown.
///
/// JSON: `{"node": "all", "held": false, "children": [...]}`, `{"node": "not", "held": ..,
/// "child": {..}}`, and leaves as in [`LeafExplanation`] with `"node": "leaf"`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "node", rename_all = "snake_case")]
pub enum Explanation {
    /// An `all` group.
    All {
        /// Whether every child held.
        held: bool,
        /// The children, in order.
        children: Vec<Explanation>,
    },
    /// An `any` group.
    Any {
        /// Whether some child held.
        held: bool,
        /// The children, in order.
        children: Vec<Explanation>,
    },
    /// A `not`.
    Not {
        /// Whether the child did not hold.
        held: bool,
        /// The negated node.
        child: Box<Explanation>,
    },
    /// A leaf condition.
    Leaf(Box<LeafExplanation>),
}

impl Explanation {
    /// Whether this node held (always equal to evaluating the same node).
    pub fn held(&self) -> bool {
        match self {
            Explanation::All { held, .. } | Explanation::Any { held, .. } | Explanation::Not { held, .. } => {
                *held
            }
            Explanation::Leaf(leaf) => leaf.held,
        }
    }
}

/// One leaf: what was compared with what, and the outcome.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LeafExplanation {
    /// Whether the condition held.
    pub held: bool,
    /// The leaf's path in the criteria (`all[2]`), as in validation errors.
    pub path: String,
    /// The tested field.
    pub field: String,
    /// The operator.
    pub op: Op,
    /// The value as written in the criteria.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<Json>,
    /// The field reference as written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field_ref: Option<String>,
    /// What the value or reference stood for at evaluation, when it is not the written
    /// value itself: the referenced field's value, or relative dates resolved at `now`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected: Option<Value>,
    /// Whether texts were compared ignoring case.
    #[serde(skip_serializing_if = "is_false")]
    pub case_insensitive: bool,
    /// The record's value (null when missing).
    pub actual: Value,
    /// The old image's value, for `changed` / `changed_to`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old: Option<Value>,
}

fn is_false(flag: &bool) -> bool {
    !*flag
}

/// Explains `criteria` against the context's record.
pub fn explain(criteria: &CompiledCriteria, ctx: &EvalContext<'_>) -> Explanation {
    criteria.explain(ctx)
}

impl CompiledCriteria {
    /// Explains the criteria against the context's record.
    pub fn explain(&self, ctx: &EvalContext<'_>) -> Explanation {
        self.root.explain(ctx)
    }
}

impl Node {
    fn explain(&self, ctx: &EvalContext<'_>) -> Explanation {
        match self {
            Node::All(children) => {
                let children: Vec<Explanation> = children.iter().map(|child| child.explain(ctx)).collect();
                Explanation::All { held: children.iter().all(Explanation::held), children }
            }
            Node::Any(children) => {
                let children: Vec<Explanation> = children.iter().map(|child| child.explain(ctx)).collect();
                Explanation::Any { held: children.iter().any(Explanation::held), children }
            }
            Node::Not(child) => {
                let child = child.explain(ctx);
                Explanation::Not { held: !child.held(), child: Box::new(child) }
            }
            Node::Leaf(leaf) => Explanation::Leaf(Box::new(leaf.explain(ctx))),
        }
    }
}

impl CompiledLeaf {
    fn explain(&self, ctx: &EvalContext<'_>) -> LeafExplanation {
        let compares_images = matches!(self.test, Test::Changed | Test::ChangedTo(_));
        LeafExplanation {
            held: self.evaluate(ctx),
            path: self.source.path.to_string(),
            field: self.field.to_string(),
            op: self.source.op,
            value: self.source.value.clone(),
            field_ref: self.source.field_ref.as_deref().map(str::to_owned),
            expected: self.expected(ctx),
            case_insensitive: self.case_insensitive,
            actual: self.actual(ctx).clone(),
            old: compares_images.then(|| self.old(ctx).clone()),
        }
    }

    fn expected(&self, ctx: &EvalContext<'_>) -> Option<Value> {
        let operand = |operand: &Operand| match operand {
            Operand::Ref(field_ref) => Some(ctx.resolve(field_ref).clone()),
            Operand::Const(constant) => is_relative(constant).then(|| constant_value(constant, ctx)),
        };
        match &self.test {
            Test::Eq { operand: o, .. }
            | Test::Order { operand: o, .. }
            | Test::Contains(o)
            | Test::StartsWith(o) => operand(o),
            Test::In { set: SetOperand::Ref(field_ref), .. } => Some(ctx.resolve(field_ref).clone()),
            Test::Between { low, high } if is_relative(low) || is_relative(high) => {
                Some(Value::List(vec![constant_value(low, ctx), constant_value(high, ctx)]))
            }
            Test::ChangedTo(constant) if is_relative(constant) => Some(constant_value(constant, ctx)),
            _ => None,
        }
    }
}

fn is_relative(constant: &Constant) -> bool {
    matches!(constant, Constant::Date(DateConst::Relative { .. }))
}

fn constant_value(constant: &Constant, ctx: &EvalContext<'_>) -> Value {
    match constant {
        Constant::Null => Value::Null,
        Constant::Bool(flag) => Value::Bool(*flag),
        Constant::Number(number) => Value::Number(*number),
        Constant::Text(text) => Value::String(text.to_string()),
        Constant::Date(date) => Value::DateTime(date.resolve(ctx.now)),
        Constant::TextList(texts) => {
            Value::List(texts.iter().map(|text| Value::String(text.to_string())).collect())
        }
    }
}
