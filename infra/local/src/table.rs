//! Creates a DynamoDB table from the `AWS::DynamoDB::Table` in `infra/template.yaml`, so the
//! local stack, the tests and AWS share one table definition.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, StreamSpecification, StreamViewType, TimeToLiveSpecification,
};
use yaml_rust2::{Yaml, YamlLoader};

/// The template, compiled in: the binary needs no checkout to create its table.
pub const TEMPLATE: &str = include_str!("../../template.yaml");

#[derive(Debug, thiserror::Error)]
pub enum TableError {
    #[error("infra/template.yaml does not parse: {0}")]
    Yaml(#[from] yaml_rust2::ScanError),
    #[error("infra/template.yaml: {0}")]
    Template(String),
    #[error("creating the table failed")]
    Create(#[source] Box<dyn std::error::Error + Send + Sync>),
}

fn template_error(message: impl Into<String>) -> TableError {
    TableError::Template(message.into())
}

/// The table's definition as the template states it.
#[derive(Debug, Clone, PartialEq)]
pub struct TableDefinition {
    pub attributes: Vec<(String, String)>,
    pub key_schema: Vec<(String, String)>,
    pub indexes: Vec<IndexDefinition>,
    pub stream_view: Option<String>,
    pub ttl_attribute: Option<String>,
}

impl TableDefinition {
    /// The same table without its stream. Tests that do not read the stream create their tables
    /// so: moto then keeps no stream record (a copy of the old and new item) per write.
    #[must_use]
    pub fn without_stream(self) -> Self {
        Self { stream_view: None, ..self }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct IndexDefinition {
    pub name: String,
    pub key_schema: Vec<(String, String)>,
    pub projection: String,
}

fn text<'a>(yaml: &'a Yaml, field: &str) -> Result<&'a str, TableError> {
    yaml[field].as_str().ok_or_else(|| template_error(format!("`{field}` missing or not text")))
}

fn pairs(list: &Yaml, first: &str, second: &str) -> Result<Vec<(String, String)>, TableError> {
    list.as_vec()
        .ok_or_else(|| template_error(format!("expected a list of {first}/{second}")))?
        .iter()
        .map(|entry| Ok((text(entry, first)?.to_owned(), text(entry, second)?.to_owned())))
        .collect()
}

/// Reads the one `AWS::DynamoDB::Table` resource of `template`.
pub fn table_definition(template: &str) -> Result<TableDefinition, TableError> {
    let documents = YamlLoader::load_from_str(template)?;
    let document = documents.first().ok_or_else(|| template_error("empty"))?;
    let resources = document["Resources"].as_hash().ok_or_else(|| template_error("no Resources"))?;
    let mut tables =
        resources.values().filter(|resource| resource["Type"].as_str() == Some("AWS::DynamoDB::Table"));
    let table = tables.next().ok_or_else(|| template_error("no AWS::DynamoDB::Table"))?;
    if tables.next().is_some() {
        return Err(template_error("more than one table; Portico uses one"));
    }
    let properties = &table["Properties"];
    let indexes = match properties["GlobalSecondaryIndexes"].as_vec() {
        Some(list) => list
            .iter()
            .map(|index| {
                Ok(IndexDefinition {
                    name: text(index, "IndexName")?.to_owned(),
                    key_schema: pairs(&index["KeySchema"], "AttributeName", "KeyType")?,
                    projection: text(&index["Projection"], "ProjectionType")?.to_owned(),
                })
            })
            .collect::<Result<_, TableError>>()?,
        None => Vec::new(),
    };
    let ttl = &properties["TimeToLiveSpecification"];
    Ok(TableDefinition {
        attributes: pairs(&properties["AttributeDefinitions"], "AttributeName", "AttributeType")?,
        key_schema: pairs(&properties["KeySchema"], "AttributeName", "KeyType")?,
        indexes,
        stream_view: properties["StreamSpecification"]["StreamViewType"].as_str().map(str::to_owned),
        ttl_attribute: (ttl["Enabled"].as_bool() == Some(true))
            .then(|| ttl["AttributeName"].as_str().map(str::to_owned))
            .flatten(),
    })
}

fn key_schema(pairs: &[(String, String)]) -> Result<Vec<KeySchemaElement>, TableError> {
    pairs
        .iter()
        .map(|(name, kind)| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(KeyType::from(kind.as_str()))
                .build()
                .map_err(|e| TableError::Create(e.into()))
        })
        .collect()
}

/// Creates `table_name` as defined by `definition` (on-demand billing), with its stream (if the
/// definition has one) and TTL.
pub async fn create_table(
    client: &Client,
    table_name: &str,
    definition: &TableDefinition,
) -> Result<(), TableError> {
    let create_error = |e: Box<dyn std::error::Error + Send + Sync>| TableError::Create(e);
    let attributes = definition
        .attributes
        .iter()
        .map(|(name, kind)| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::from(kind.as_str()))
                .build()
                .map_err(|e| create_error(e.into()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let indexes = definition
        .indexes
        .iter()
        .map(|index| {
            GlobalSecondaryIndex::builder()
                .index_name(&index.name)
                .set_key_schema(Some(key_schema(&index.key_schema)?))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::from(index.projection.as_str()))
                        .build(),
                )
                .build()
                .map_err(|e| create_error(e.into()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let stream = definition.stream_view.as_deref().map(|view| {
        StreamSpecification::builder()
            .stream_enabled(true)
            .stream_view_type(StreamViewType::from(view))
            .build()
    });
    client
        .create_table()
        .table_name(table_name)
        .billing_mode(BillingMode::PayPerRequest)
        .set_attribute_definitions(Some(attributes))
        .set_key_schema(Some(key_schema(&definition.key_schema)?))
        .set_global_secondary_indexes((!indexes.is_empty()).then_some(indexes))
        .set_stream_specification(stream.transpose().map_err(|e| create_error(e.into()))?)
        .send()
        .await
        .map_err(|e| create_error(e.into()))?;
    if let Some(attribute) = &definition.ttl_attribute {
        let ttl = TimeToLiveSpecification::builder()
            .attribute_name(attribute)
            .enabled(true)
            .build()
            .map_err(|e| create_error(e.into()))?;
        client
            .update_time_to_live()
            .table_name(table_name)
            .time_to_live_specification(ttl)
            .send()
            .await
            .map_err(|e| create_error(e.into()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_projects_table() {
        let definition = table_definition(TEMPLATE).expect("template parses");
        assert_eq!(definition.key_schema, vec![("PK".into(), "HASH".into()), ("SK".into(), "RANGE".into())]);
        assert!(definition.indexes.iter().any(|index| index.name == "GSI1"));
        assert_eq!(definition.stream_view.as_deref(), Some("NEW_AND_OLD_IMAGES"));
        assert_eq!(definition.ttl_attribute.as_deref(), Some("ttl"));
    }

    #[test]
    fn a_definition_without_stream_keeps_everything_else() {
        let definition = table_definition(TEMPLATE).expect("template parses");
        let plain = definition.clone().without_stream();
        assert_eq!(plain.stream_view, None);
        assert_eq!(TableDefinition { stream_view: definition.stream_view.clone(), ..plain }, definition);
    }

    #[test]
    fn refuses_a_template_without_table() {
        assert!(table_definition("Resources:\n  X:\n    Type: AWS::SNS::Topic\n").is_err());
    }
}
