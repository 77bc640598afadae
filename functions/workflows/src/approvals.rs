//! Approver mails from the stream (SPEC §1): when a customer account starts waiting for
//! approval, every active staff member who may approve registrations gets one mail in their own
//! language, once per account and approver even when the batch comes again.

use portico::AppState;
use portico::domain::permission::grants_of;
use portico::domain::{Account, AccountStatus, Permission};
use portico::notify::MailTemplate;
use portico::store::StoreError;

use crate::Rules;

/// Mails the approvers of `account`, which has just entered `pending_approval` (policy
/// `notify_admins`). Each mail is skipped when its marker says it went out, and marked after.
pub async fn notify_approvers(state: &AppState, rules: &Rules, account: &Account) -> Result<(), StoreError> {
    let policy = state.registration_policy().await?;
    if !policy.notify_admins {
        return Ok(());
    }
    let queue_link = state.link("/admin/#registrations");
    let customer = match &account.company_name {
        Some(company) => format!("{} ({company})", account.name),
        None => account.name.clone(),
    };
    let template = MailTemplate::ApprovalRequested {
        customer: &customer,
        email: account.email.as_str(),
        queue_link: &queue_link,
    };
    let custom_roles = rules.custom_roles(state).await?;
    for staff in rules.staff(state).await? {
        let may_approve =
            grants_of(&staff.roles, custom_roles).permissions.contains(&Permission::RegistrationsApprove);
        if !may_approve || staff.status != AccountStatus::Active {
            continue;
        }
        let key = format!("approval-mail#{}#{}", account.id, staff.id);
        if state.store.effect_done(&key).await? {
            continue;
        }
        state
            .notifier
            .send_mail(&staff.email, &template.render(staff.locale))
            .await
            .map_err(|error| StoreError::Unavailable(format!("approver mail not sent: {error}").into()))?;
        state.store.mark_effect_done(&key, chrono::Utc::now()).await?;
    }
    Ok(())
}
