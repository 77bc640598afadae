"""schemathesis hooks for tests/schemathesis.toml.

The check that schema-valid requests are accepted (ST202) has two kinds of exemption, each
narrow and named; any other refusal of a schema-valid request fails the run.

1. Values only the server issues or only the account holder knows — a signed cursor, a mailed
   link's token, a mailed or texted code, the current password. No schema can tell a random
   string from one the server signed or sent; these refusals are recognised by the problem's
   `code`.
2. Fields whose validity depends on the organisation's data, which a schema written at build
   time cannot list: ids and names that must exist (projects, roles, contacts, modules),
   criteria naming a module's fields, and rules relating two fields. They are recognised by
   the operation, the problem's `code` and the field it names.
"""

import re

import schemathesis

NOT_ISSUED_BY_THE_SERVER = {
    "invalid_cursor",
    "invalid_token",
    "invalid_code",
    "code_expired",
    "invalid_current_password",
}

# (operation, field the problem names): a validation_failed naming only such fields is exempt.
DEPENDS_ON_DATA = [
    (r"PATCH /admin/contact-fields/\{name\}", r"projects\[\d+\]"),  # must be an existing project
    (r"POST /admin/contact-fields", r"projects\[\d+\]|unique|name"),  # projects; unique: not lists or booleans; name: not a built-in field
    (r"(PATCH|POST) /admin/users(/\{id\})?", r"roles\[\d+\]|projects\[\d+\]|password"),  # existing roles and projects; password: not a common one
    (r"POST /registrations", r"password|company_name"),  # not a common password; a company name for companies only
    (r"(POST|PUT) /admin/roles(/\{id\})?", r"modules\..*|id"),  # existing modules; id: not a built-in role's
    (r"(POST|PUT) /admin/(workflow-rules|otp-rules)(/\{id\})?", r"module|criteria.*|trigger\..*|actions.*|field|otp\..*|delivery\..*"),  # a module's fields
    (r"(POST|PUT) /admin/forms(/\{id\})?", r"project_id|questions.*|data\..*"),  # an existing project and its contact fields
    (r"PUT /admin/portal/modules/\{module\}", r"module|criteria.*|fields.*|lookup|sort"),  # a module's fields
    (r"PUT /admin/customers/\{id\}/contact", r"contact_id"),  # an existing contact
    (r"POST /imports/contacts", r"mapping.*|project_id|csv|match_on"),  # the project's contact fields
]



@schemathesis.hook
def filter_failure(context, failure, case, response):
    if failure.code != "ST202":
        return True
    try:
        problem = response.json()
    except ValueError:
        return True
    if not isinstance(problem, dict):
        return True
    if problem.get("code") in NOT_ISSUED_BY_THE_SERVER:
        return False
    operation = f"{case.method.upper()} {case.path}"
    fields = [error.get("field", "") for error in problem.get("errors", [])]
    if problem.get("code") != "validation_failed" or not fields:
        return True
    for pattern, exempt in DEPENDS_ON_DATA:
        if re.fullmatch(pattern, operation) and all(re.fullmatch(exempt, field) for field in fields):
            return False
    return True
