//! Accounts, their e-mail uniqueness guards and e-mail verification (its challenge item lives
//! in `challenges`).

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_dynamodb::types::builders::UpdateBuilder;
use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, KeysAndAttributes, TransactWriteItem, Update};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use ulid::Ulid;

use super::administrators::{COUNT_ITEM, CountRefusal};
use super::challenges::{Bare, ChallengeAt, SPEND, decode_challenge};
use super::keys::{self, GSI1, GSI1PK, GSI1SK, PK, SK};
use super::roles::{ROLE_ITEM, custom_role_ids, role_item_name};
use super::sessions::TrustedDevice;
use super::{Item, Page, PageKey, Store, StoreError, WriteSet, page_key_from_item, page_key_to_item, s};
use crate::domain::account::Login;
use crate::domain::account::PasswordHash;
use crate::domain::administrators::{self, Recount, StaffState};
use crate::domain::challenge::{Answered, Challenge};
use crate::domain::lifecycle::Stage;
use crate::domain::permission::Role;
use crate::domain::{Account, AccountKind, AccountStatus, AccountType, Email, Locale, Phone};

#[derive(Serialize, Deserialize)]
struct AccountItem {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    #[serde(rename = "GSI1PK")]
    gsi1pk: String,
    #[serde(rename = "GSI1SK")]
    gsi1sk: String,
    /// GSI4 (GSI1's partition): the address in lower case, so staff find customers by its start.
    #[serde(rename = "GSI4SK", default)]
    gsi4sk: String,
    /// GSI5 (GSI1's partition): the name folded as the criteria language folds, then the id.
    #[serde(rename = "GSI5SK", default)]
    gsi5sk: String,
    entity: String,
    id: Ulid,
    kind: AccountKind,
    email: Email,
    password_hash: PasswordHash,
    name: String,
    account_type: AccountType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    company_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    phone: Option<Phone>,
    locale: Locale,
    status: AccountStatus,
    email_verified: bool,
    requires_approval: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rejection_reason: Option<String>,
    #[serde(default)]
    roles: Vec<String>,
    #[serde(default)]
    projects: Vec<Ulid>,
    /// A string set kept by atomic ADD/DELETE (see `labels.rs`); never written by a put.
    #[serde(default, skip_serializing)]
    labels: Vec<Ulid>,
    #[serde(default)]
    trust_version: u64,
    /// Set only by the link's own transaction (`portal.rs`); never written by a put.
    #[serde(default, skip_serializing)]
    contact_id: Option<Ulid>,
    /// The lifecycle stage and its built-in label, set only by `lifecycle.rs`; never by a put.
    #[serde(default, skip_serializing)]
    lifecycle: Option<Stage>,
    #[serde(default, skip_serializing)]
    lifecycle_label: Option<Ulid>,
    /// The last sign-in or change by a person to the customer's contact or its records.
    #[serde(default, skip_serializing, with = "crate::time::rfc3339_option")]
    last_activity_at: Option<DateTime<Utc>>,
    #[serde(with = "crate::time::rfc3339")]
    created_at: DateTime<Utc>,
    #[serde(with = "crate::time::rfc3339")]
    updated_at: DateTime<Utc>,
}

/// A Query's accounts and where the next page starts.
fn account_page(
    output: aws_sdk_dynamodb::operation::query::QueryOutput,
) -> Result<Page<Account>, StoreError> {
    let items = output.items.unwrap_or_default().into_iter().map(decode_account).collect::<Result<_, _>>()?;
    Ok(Page { items, next: page_key_from_item(output.last_evaluated_key)? })
}

/// GSI1 partition of an account: customers by state (the approval queue), staff together.
fn account_partition(kind: AccountKind, status: AccountStatus) -> String {
    match kind {
        AccountKind::Customer => keys::customers_in(status),
        AccountKind::Staff => keys::STAFF_PARTITION.to_owned(),
    }
}

impl From<&Account> for AccountItem {
    fn from(account: &Account) -> Self {
        let (pk, sk) = keys::account(account.id);
        Self {
            pk,
            sk,
            gsi1pk: account_partition(account.kind, account.status),
            gsi1sk: account.id.to_string(),
            gsi4sk: keys::account_by_email(&account.email),
            gsi5sk: keys::account_by_name(&account.name, account.id),
            entity: "account".into(),
            id: account.id,
            kind: account.kind,
            email: account.email.clone(),
            password_hash: account.password_hash.clone(),
            name: account.name.clone(),
            account_type: account.account_type,
            company_name: account.company_name.clone(),
            phone: account.phone.clone(),
            locale: account.locale,
            status: account.status,
            email_verified: account.email_verified,
            requires_approval: account.requires_approval,
            rejection_reason: account.rejection_reason.clone(),
            roles: account.roles.clone(),
            projects: account.projects.clone(),
            labels: Vec::new(),
            trust_version: account.trust_version,
            contact_id: None,
            lifecycle: None,
            lifecycle_label: None,
            last_activity_at: None,
            created_at: account.created_at,
            updated_at: account.updated_at,
        }
    }
}

impl From<AccountItem> for Account {
    fn from(item: AccountItem) -> Self {
        Self {
            id: item.id,
            kind: item.kind,
            email: item.email,
            password_hash: item.password_hash,
            name: item.name,
            account_type: item.account_type,
            company_name: item.company_name,
            phone: item.phone,
            locale: item.locale,
            status: item.status,
            email_verified: item.email_verified,
            requires_approval: item.requires_approval,
            rejection_reason: item.rejection_reason,
            roles: item.roles,
            projects: item.projects,
            // The lifecycle label is one of the customer's labels, kept apart so that exactly
            // one is attached at a time.
            labels: {
                let mut labels: Vec<Ulid> = item.labels.into_iter().chain(item.lifecycle_label).collect();
                labels.sort();
                labels.dedup();
                labels
            },
            trust_version: item.trust_version,
            contact_id: item.contact_id,
            lifecycle: item.lifecycle,
            last_activity_at: item.last_activity_at,
            created_at: item.created_at,
            updated_at: item.updated_at,
        }
    }
}

/// A staff account as far as the administrator count goes.
fn staff_state(account: &Account) -> StaffState<'_> {
    StaffState { status: account.status, roles: &account.roles }
}

/// The account stored in `item` — from a read or a DynamoDB stream image.
pub fn decode_account(item: Item) -> Result<Account, StoreError> {
    Ok(serde_dynamo::from_item::<_, AccountItem>(item)?.into())
}

/// The login item (see `Login`): the e-mail guard, holding a copy of the sign-in fields.
#[derive(Serialize, Deserialize)]
pub(super) struct LoginItem {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    entity: String,
    account_id: Ulid,
    kind: AccountKind,
    status: AccountStatus,
    password_hash: PasswordHash,
    #[serde(default)]
    roles: Vec<String>,
    #[serde(default)]
    projects: Vec<Ulid>,
    #[serde(default)]
    trust_version: u64,
    /// Set by "not me": the password is no longer trusted until a reset sets a new one.
    #[serde(default)]
    password_reset_required: bool,
}

impl From<&Account> for LoginItem {
    fn from(account: &Account) -> Self {
        let (pk, sk) = keys::login(&account.email);
        Self {
            pk,
            sk,
            entity: "login".into(),
            account_id: account.id,
            kind: account.kind,
            status: account.status,
            password_hash: account.password_hash.clone(),
            roles: account.roles.clone(),
            projects: account.projects.clone(),
            trust_version: account.trust_version,
            password_reset_required: false,
        }
    }
}

pub(super) fn decode_login(item: Item) -> Result<Login, StoreError> {
    let item: LoginItem = serde_dynamo::from_item(item)?;
    Ok(Login {
        account_id: item.account_id,
        kind: item.kind,
        status: item.status,
        password_hash: item.password_hash,
        roles: item.roles,
        projects: item.projects,
        trust_version: item.trust_version,
        password_reset_required: item.password_reset_required,
    })
}

/// The outcome of storing a new registration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registered {
    Created,
    /// Another account holds the address; nothing was written.
    EmailTaken,
}

/// The outcome of creating a staff user or changing their access.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StaffWrite {
    Done,
    /// Another account holds the address (on create).
    EmailTaken,
    /// This custom role does not exist (any more); nothing was written.
    NoSuchRole(String),
    /// The account is not a staff account, or its roles changed since it was read.
    Stale,
    /// The granter's own roles changed since they were read; nothing was written.
    GranterChanged,
    /// A custom role's grants changed since they were read; nothing was written.
    RoleChanged,
    /// The write would leave no active staff user holding both `users.manage` and
    /// `settings.manage`; nothing was written.
    LastAdministrator,
    /// The table has no administrator count yet (see `administrators.rs`); nothing was written.
    AdministratorsUncounted,
}

pub(super) fn role_list(roles: &[String]) -> AttributeValue {
    AttributeValue::L(roles.iter().map(|role| s(role.as_str())).collect())
}

fn project_list(projects: &[Ulid]) -> AttributeValue {
    AttributeValue::L(projects.iter().map(|project| s(project.to_string())).collect())
}

impl Store {
    /// Creates the account, its login item (the e-mail guard), and optionally its verification
    /// challenge and the device it registered from, in one transaction: two registrations racing
    /// for one address create exactly one account.
    #[tracing::instrument(skip_all, fields(account_id = %account.id))]
    pub async fn create_account(
        &self,
        account: &Account,
        challenge: Option<&Challenge>,
        device: Option<&TrustedDevice>,
    ) -> Result<Registered, StoreError> {
        let mut items = WriteSet::new()
            .with("login", self.put_if_absent(serde_dynamo::to_item(LoginItem::from(account))?)?)
            .with("account", self.put_if_absent(serde_dynamo::to_item(AccountItem::from(account))?)?);
        if let Some(challenge) = challenge {
            items.add(
                SPEND,
                self.challenge_put(ChallengeAt::EmailVerification(account.id), challenge, Bare {})?,
            );
        }
        if let Some(device) = device {
            items.add("device", self.device_put(account.id, device)?);
        }
        match self.commit(items).await {
            Ok(()) => Ok(Registered::Created),
            Err(error) if error.failed("login") => Ok(Registered::EmailTaken),
            Err(error) => Err(error),
        }
    }

    #[tracing::instrument(skip_all, fields(account_id = %id))]
    pub async fn account(&self, id: Ulid) -> Result<Option<Account>, StoreError> {
        self.get_item(keys::account(id)).await?.map(decode_account).transpose()
    }

    /// The sign-in facts of the account holding `email`.
    #[tracing::instrument(skip_all)]
    pub async fn login(&self, email: &Email) -> Result<Option<Login>, StoreError> {
        self.get_item(keys::login(email)).await?.map(decode_login).transpose()
    }

    /// The id of the account holding `email`.
    pub async fn account_id_by_email(&self, email: &Email) -> Result<Option<Ulid>, StoreError> {
        Ok(self.login(email).await?.map(|login| login.account_id))
    }

    pub async fn account_by_email(&self, email: &Email) -> Result<Option<Account>, StoreError> {
        match self.account_id_by_email(email).await? {
            Some(id) => self.account(id).await,
            None => Ok(None),
        }
    }

    /// Creates staff account `account` like `create_account`, counting it as a holder of each
    /// of its custom roles, and as an administrator if it is one, while `granter` still holds
    /// the roles it was read with, all in one transaction. Without a granter (an operator seeding
    /// the first administrator) only the account's own conditions apply. `definitions` are the
    /// account's roles as read; the write holds only while those that decide whether it
    /// administers still grant what they granted.
    #[tracing::instrument(skip_all, fields(account_id = %account.id))]
    pub async fn create_staff(
        &self,
        account: &Account,
        granter: Option<&Account>,
        definitions: &[Role],
    ) -> Result<StaffWrite, StoreError> {
        let mut items = WriteSet::new()
            .with("login", self.put_if_absent(serde_dynamo::to_item(LoginItem::from(account))?)?)
            .with("account", self.put_if_absent(serde_dynamo::to_item(AccountItem::from(account))?)?);
        if let Some(granter) = granter {
            items.add("granter", self.granter_unchanged(granter)?);
        }
        let recount = administrators::staff_change(None, staff_state(account), definitions);
        self.add_counted(&mut items, &[], &account.roles, &recount)?;
        match self.commit(items).await {
            Ok(()) => Ok(StaffWrite::Done),
            Err(error) if error.failed("login") => Ok(StaffWrite::EmailTaken),
            Err(error) => self.staff_write_refused(error).await,
        }
    }

    /// Gives staff member `account` (as read) new roles and projects, on the account and its
    /// login item together, moving the custom roles' holder counts and the administrator count,
    /// while `granter` still holds the roles it was read with. The write holds only if the
    /// account still has the status and roles it was read with, and the roles in `definitions`
    /// (as read: at least the account's custom roles before and after) that decide whether it
    /// administers still grant what they granted.
    #[tracing::instrument(skip_all, fields(account_id = %account.id, by = %granter.id))]
    pub async fn set_staff_access(
        &self,
        account: &Account,
        roles: &[String],
        projects: &[Ulid],
        granter: &Account,
        definitions: &[Role],
        now: DateTime<Utc>,
    ) -> Result<StaffWrite, StoreError> {
        let list = role_list(roles);
        let projects = project_list(projects);
        let (pk, sk) = keys::account(account.id);
        let account_update = Update::builder()
            .table_name(self.table())
            .key(PK, s(pk))
            .key(SK, s(sk))
            .update_expression("SET #roles = :roles, projects = :projects, updated_at = :now")
            // The projects too: a user manager's right to change the user was decided on them.
            .condition_expression(
                "kind = :staff AND #status = :status AND #roles = :read AND projects = :read_projects",
            )
            .expression_attribute_names("#roles", "roles")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":roles", list.clone())
            .expression_attribute_values(":read", role_list(&account.roles))
            .expression_attribute_values(":read_projects", project_list(&account.projects))
            .expression_attribute_values(":status", s(account.status.as_str()))
            .expression_attribute_values(":projects", projects.clone())
            .expression_attribute_values(":staff", s(AccountKind::Staff.as_str()))
            .expression_attribute_values(":now", s(crate::time::format(now)))
            .build()?;
        let login_update = self
            .login_copy_update(account)
            .update_expression("SET #roles = :roles, projects = :projects")
            .expression_attribute_names("#roles", "roles")
            .expression_attribute_values(":roles", list)
            .expression_attribute_values(":projects", projects)
            .build()?;
        // Changing one's own access: the account's condition already holds the granter's roles
        // (one transaction can't name an item twice).
        let mut items = WriteSet::new()
            .with("account", TransactWriteItem::builder().update(account_update).build())
            .with("login", TransactWriteItem::builder().update(login_update).build());
        if granter.id != account.id {
            items.add("granter", self.granter_unchanged(granter)?);
        }
        let after = StaffState { status: account.status, roles };
        let recount = administrators::staff_change(Some(staff_state(account)), after, definitions);
        self.add_counted(&mut items, &account.roles, roles, &recount)?;
        match self.commit(items).await {
            Ok(()) => Ok(StaffWrite::Done),
            Err(error) => self.staff_write_refused(error).await,
        }
    }

    /// Adds to a staff write set its items on custom roles and on the administrator count: each
    /// role gained counts one more holder, each role dropped one fewer, each role the recount
    /// read holds while it grants what it granted (one item per role: a transaction names an
    /// item once), and the count moves by the recount.
    fn add_counted(
        &self,
        items: &mut WriteSet,
        held: &[String],
        wanted: &[String],
        recount: &Recount,
    ) -> Result<(), StoreError> {
        let held: BTreeSet<&str> = custom_role_ids(held).collect();
        let wanted: BTreeSet<&str> = custom_role_ids(wanted).collect();
        let mut usage: BTreeMap<&str, i64> = BTreeMap::new();
        for role in wanted.difference(&held) {
            usage.insert(role, 1);
        }
        for role in held.difference(&wanted) {
            usage.insert(role, -1);
        }
        let touched: BTreeSet<&str> =
            usage.keys().copied().chain(recount.relies_on.keys().map(String::as_str)).collect();
        for role in touched {
            let item =
                self.role_item(role, usage.get(role).copied(), recount.relies_on.get(role).copied())?;
            items.add(role_item_name(role), item);
        }
        if let Some(item) = self.administrator_count_move(recount)? {
            items.add(COUNT_ITEM, item);
        }
        Ok(())
    }

    /// What a cancelled staff write set means, by the items that failed. The account or login
    /// changing comes first: the rest was decided from what was read of them.
    async fn staff_write_refused(&self, error: StoreError) -> Result<StaffWrite, StoreError> {
        let Some(cancelled) = error.cancellation() else { return Err(error) };
        if cancelled.failed("account") || cancelled.failed("login") {
            return Ok(StaffWrite::Stale);
        }
        if cancelled.failed("granter") {
            return Ok(StaffWrite::GranterChanged);
        }
        if let Some(role) = cancelled.failed_under(ROLE_ITEM).next() {
            // Gone, or granting otherwise than the recount read: only read to tell them apart.
            return Ok(match self.role(role).await? {
                None => StaffWrite::NoSuchRole(role.to_owned()),
                Some(_) => StaffWrite::RoleChanged,
            });
        }
        if cancelled.failed(COUNT_ITEM) {
            return Ok(match self.count_refusal().await? {
                CountRefusal::LastAdministrator => StaffWrite::LastAdministrator,
                CountRefusal::Uncounted => StaffWrite::AdministratorsUncounted,
            });
        }
        // A conflict with a concurrent transaction: a retryable error.
        Err(error)
    }

    /// A transaction item that holds only while staff member `granter` is active with the roles
    /// and projects it was read with: rights taken from someone can't be handed out on their
    /// behalf meanwhile.
    pub(super) fn granter_unchanged(&self, granter: &Account) -> Result<TransactWriteItem, StoreError> {
        let (pk, sk) = keys::account(granter.id);
        let check = ConditionCheck::builder()
            .table_name(self.table())
            .key(PK, s(pk))
            .key(SK, s(sk))
            .condition_expression(
                "kind = :staff AND #status = :active AND #roles = :held AND projects = :projects",
            )
            .expression_attribute_names("#roles", "roles")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":staff", s(AccountKind::Staff.as_str()))
            .expression_attribute_values(":active", s(AccountStatus::Active.as_str()))
            .expression_attribute_values(":held", role_list(&granter.roles))
            .expression_attribute_values(":projects", project_list(&granter.projects))
            .build()?;
        Ok(TransactWriteItem::builder().condition_check(check).build())
    }

    /// Moves staff member `account` (as read) from its status to `to`, on the account and its
    /// login item, while it still has the roles it was read with and `granter` is unchanged
    /// (two administrators disabling each other at once: one of them wins), moving the
    /// administrator count if it administers by `definitions` (its roles as read).
    #[tracing::instrument(skip_all, fields(account_id = %account.id, by = %granter.id))]
    pub async fn change_staff_status(
        &self,
        account: &Account,
        to: AccountStatus,
        granter: &Account,
        definitions: &[Role],
        now: DateTime<Utc>,
    ) -> Result<StaffWrite, StoreError> {
        let (pk, sk) = keys::account(account.id);
        let update = Update::builder()
            .table_name(self.table())
            .key(PK, s(pk))
            .key(SK, s(sk))
            .update_expression("SET #status = :to, updated_at = :now")
            .condition_expression(
                "kind = :staff AND #status = :from AND #roles = :read AND projects = :read_projects",
            )
            .expression_attribute_values(":read_projects", project_list(&account.projects))
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#roles", "roles")
            .expression_attribute_values(":staff", s(AccountKind::Staff.as_str()))
            .expression_attribute_values(":from", s(account.status.as_str()))
            .expression_attribute_values(":to", s(to.as_str()))
            .expression_attribute_values(":read", role_list(&account.roles))
            .expression_attribute_values(":now", s(crate::time::format(now)))
            .build()?;
        let mut items = WriteSet::new()
            .with("account", TransactWriteItem::builder().update(update).build())
            .with("login", self.login_status_update(&account.email, to)?)
            .with("granter", self.granter_unchanged(granter)?);
        let after = StaffState { status: to, roles: &account.roles };
        let recount = administrators::staff_change(Some(staff_state(account)), after, definitions);
        self.add_counted(&mut items, &account.roles, &account.roles, &recount)?;
        match self.commit(items).await {
            Ok(()) => Ok(StaffWrite::Done),
            Err(error) => self.staff_write_refused(error).await,
        }
    }

    /// An Update of the copy of `account`'s sign-in fields on its login item, for the caller to
    /// complete; it holds only while the item still belongs to the account.
    pub(super) fn login_copy_update(&self, account: &Account) -> UpdateBuilder {
        let (pk, sk) = keys::login(&account.email);
        Update::builder()
            .table_name(self.table())
            .key(PK, s(pk))
            .key(SK, s(sk))
            .condition_expression("account_id = :account")
            .expression_attribute_values(":account", s(account.id.to_string()))
    }

    /// A transaction item that copies a new status to the login item of `email`.
    pub(super) fn login_status_update(
        &self,
        email: &Email,
        status: AccountStatus,
    ) -> Result<TransactWriteItem, StoreError> {
        let (pk, sk) = keys::login(email);
        let update = Update::builder()
            .table_name(self.table())
            .key(PK, s(pk))
            .key(SK, s(sk))
            .update_expression("SET #status = :status")
            .condition_expression("attribute_exists(PK)")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":status", s(status.as_str()))
            .build()?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    /// Sets the language of account `id`'s mails; `false` when there is no such account.
    pub async fn set_locale(&self, id: Ulid, locale: Locale, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let result = self
            .update_at(keys::account(id))
            .update_expression("SET locale = :locale, updated_at = :now")
            .condition_expression("attribute_exists(PK)")
            .expression_attribute_values(":locale", serde_dynamo::to_attribute_value(locale)?)
            .expression_attribute_values(":now", s(crate::time::format(now)))
            .send()
            .await;
        super::condition_held(result)
    }

    /// Customers in `status`, oldest first (ULIDs sort by time).
    #[tracing::instrument(skip(self, start))]
    pub async fn customers_by_status(
        &self,
        status: AccountStatus,
        limit: i32,
        start: Option<PageKey>,
    ) -> Result<Page<Account>, StoreError> {
        let partition = keys::customers_in(status);
        super::check_start(start.as_ref(), (GSI1PK, &partition), GSI1SK, None)?;
        let output = self
            .client()
            .query()
            .table_name(self.table())
            .index_name(GSI1)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", GSI1PK)
            .expression_attribute_values(":pk", s(partition))
            .limit(limit)
            .set_exclusive_start_key(start.map(page_key_to_item))
            .send()
            .await?;
        account_page(output)
    }

    /// Customers in `status` whose address (`q` with an `@`) or name starts with `q`, ignoring
    /// case, from the address (GSI4) or name (GSI5) index: never a scan.
    pub async fn search_customers(
        &self,
        status: AccountStatus,
        q: &str,
        limit: i32,
        start: Option<PageKey>,
    ) -> Result<Page<Account>, StoreError> {
        let partition = keys::customers_in(status);
        let (index, sort, prefix) = if q.contains('@') {
            (keys::GSI4, keys::GSI4SK, q.trim().to_lowercase())
        } else {
            (keys::GSI5, keys::GSI5SK, crate::criteria::fold_case(q.trim()))
        };
        super::check_start(start.as_ref(), (GSI1PK, &partition), sort, Some(&prefix))?;
        let output = self
            .client()
            .query()
            .table_name(self.table())
            .index_name(index)
            .key_condition_expression("#pk = :pk AND begins_with(#sort, :prefix)")
            .expression_attribute_names("#pk", GSI1PK)
            .expression_attribute_names("#sort", sort)
            .expression_attribute_values(":pk", s(partition))
            .expression_attribute_values(":prefix", s(prefix))
            .limit(limit)
            .set_exclusive_start_key(start.map(page_key_to_item))
            .send()
            .await?;
        account_page(output)
    }

    /// Gives every customer its search keys (GSI4SK, GSI5SK), for a table from before them:
    /// the customers are read state by state from GSI1 (no scan), and each key is written on
    /// the condition that the address and name are still those read. Repeatable; the count of
    /// customers written.
    pub async fn index_customers_for_search(&self) -> Result<usize, StoreError> {
        let mut written = 0;
        for status in AccountStatus::ALL {
            let mut start = None;
            loop {
                let page = self.customers_by_status(status, 100, start).await?;
                for account in &page.items {
                    let outcome = self
                        .update_at(keys::account(account.id))
                        .update_expression("SET GSI4SK = :by_email, GSI5SK = :by_name")
                        .condition_expression("email = :email AND #name = :name")
                        .expression_attribute_names("#name", "name")
                        .expression_attribute_values(":by_email", s(keys::account_by_email(&account.email)))
                        .expression_attribute_values(
                            ":by_name",
                            s(keys::account_by_name(&account.name, account.id)),
                        )
                        .expression_attribute_values(":email", s(account.email.as_str()))
                        .expression_attribute_values(":name", s(account.name.as_str()))
                        .send()
                        .await;
                    // Changed meanwhile: that write set the keys itself.
                    if super::condition_held(outcome)? {
                        written += 1;
                    }
                }
                start = page.next;
                if start.is_none() {
                    break;
                }
            }
        }
        Ok(written)
    }

    /// Every staff account (a small set: one GSI1 partition), for notifications.
    #[tracing::instrument(skip(self))]
    pub async fn staff(&self) -> Result<Vec<Account>, StoreError> {
        let mut pages = self.staff_query().into_paginator().items().send();
        let mut staff = Vec::new();
        while let Some(item) = pages.next().await {
            staff.push(decode_account(item?)?);
        }
        Ok(staff)
    }

    /// Moves a customer from `from` to `to` (with `reason` recorded, for rejections), on the
    /// account and its login item together. `None` when there is no such customer or it is not
    /// (or no longer) in `from`.
    #[tracing::instrument(skip(self, reason), fields(account_id = %id))]
    pub async fn change_status(
        &self,
        id: Ulid,
        from: AccountStatus,
        to: AccountStatus,
        reason: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Option<Account>, StoreError> {
        let Some(account) = self.account(id).await? else { return Ok(None) };
        if account.kind != AccountKind::Customer || account.status != from {
            return Ok(None);
        }
        let partition = keys::customers_in(to);
        let (pk, sk) = keys::account(id);
        let mut update = Update::builder()
            .table_name(self.table())
            .key(PK, s(pk))
            .key(SK, s(sk))
            .condition_expression("#status = :from")
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#gsi1pk", GSI1PK)
            .expression_attribute_values(":from", s(from.as_str()))
            .expression_attribute_values(":to", s(to.as_str()))
            .expression_attribute_values(":partition", s(partition))
            .expression_attribute_values(":now", s(crate::time::format(now)));
        update = match reason {
            Some(reason) => update
                .update_expression(
                    "SET #status = :to, #gsi1pk = :partition, updated_at = :now, rejection_reason = :reason",
                )
                .expression_attribute_values(":reason", s(reason)),
            None => update.update_expression("SET #status = :to, #gsi1pk = :partition, updated_at = :now"),
        };
        let items = WriteSet::new()
            .with("account", TransactWriteItem::builder().update(update.build()?).build())
            .with("login", self.login_status_update(&account.email, to)?);
        match self.commit(items).await {
            Ok(()) => Ok(Some(Account {
                status: to,
                rejection_reason: reason.map(str::to_owned).or(account.rejection_reason.clone()),
                updated_at: now,
                ..account
            })),
            Err(StoreError::Cancelled(_)) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Replaces the account's verification challenge (a resend invalidates the previous code).
    pub async fn put_email_challenge(
        &self,
        account_id: Ulid,
        challenge: &Challenge,
    ) -> Result<(), StoreError> {
        self.put(Self::challenge_item(ChallengeAt::EmailVerification(account_id), challenge, Bare {})).await
    }

    /// The account and its verification challenge, in one BatchGetItem.
    pub async fn account_with_email_challenge(
        &self,
        account_id: Ulid,
    ) -> Result<(Option<Account>, Option<Challenge>), StoreError> {
        let (account, item) =
            self.account_with_item(account_id, keys::email_verification(account_id)).await?;
        let challenge = item.map(decode_challenge::<Bare>).transpose()?.map(|(challenge, Bare {})| challenge);
        Ok((account, challenge))
    }

    /// Account `account_id` and another item of its partition (`key`), in one consistent
    /// BatchGetItem: the item is found by the account id alone, so it need not wait for the
    /// account.
    pub(super) async fn account_with_item(
        &self,
        account_id: Ulid,
        (pk, sk): keys::Key,
    ) -> Result<(Option<Account>, Option<Item>), StoreError> {
        let (account_pk, account_sk) = keys::account(account_id);
        let wanted = KeysAndAttributes::builder()
            .keys(Item::from([(PK.into(), s(account_pk)), (SK.into(), s(account_sk.clone()))]))
            .keys(Item::from([(PK.into(), s(pk)), (SK.into(), s(sk))]))
            .consistent_read(true)
            .build()?;
        let mut account = None;
        let mut other = None;
        for item in self.batch_get(wanted).await? {
            if item.get(SK) == Some(&AttributeValue::S(account_sk.clone())) {
                account = Some(decode_account(item)?);
            } else {
                other = Some(item);
            }
        }
        Ok((account, other))
    }

    /// Spends the challenge and marks the e-mail verified, moving the account from `from` to `to`,
    /// in one transaction. `false` when the proof no longer matches (spent, replaced, locked) or
    /// the account changed meanwhile: exactly one of several concurrent confirmations wins.
    #[tracing::instrument(skip_all, fields(account_id = %account.id))]
    pub async fn confirm_email(
        &self,
        account: &Account,
        challenge: &Challenge,
        answered: Answered,
        to: AccountStatus,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let spend =
            self.challenge_spend(ChallengeAt::EmailVerification(account.id), challenge, answered, now)?;
        let (pk, sk) = keys::account(account.id);
        let verify = Update::builder()
            .table_name(self.table())
            .key(PK, s(pk))
            .key(SK, s(sk))
            .update_expression(
                "SET email_verified = :true, #status = :to, #gsi1pk = :partition, updated_at = :now",
            )
            .condition_expression("#status = :from")
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#gsi1pk", GSI1PK)
            .expression_attribute_values(":true", AttributeValue::Bool(true))
            .expression_attribute_values(":to", s(to.as_str()))
            .expression_attribute_values(":from", s(account.status.as_str()))
            .expression_attribute_values(":partition", s(account_partition(account.kind, to)))
            .expression_attribute_values(":now", s(crate::time::format(now)))
            .build()?;
        let items = WriteSet::new()
            .with(SPEND, spend)
            .with("account", TransactWriteItem::builder().update(verify).build())
            .with("login", self.login_status_update(&account.email, to)?);
        match self.commit(items).await {
            Ok(()) => Ok(true),
            Err(StoreError::Cancelled(_)) => Ok(false),
            Err(error) => Err(error),
        }
    }
}
