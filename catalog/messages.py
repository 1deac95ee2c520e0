"""Messages a reader sees, in the request's language.

The services, the record schemas' checks (schemas/formats.py, schemas/registry.py) and the sync engine
speak stable English: the API's clients and the stored quarantine rows keep that text. Translation
happens when a message is shown (a page, or an API answer whose Accept-Language asks for Chinese): the
message is matched against the templates below, its parameters taken out, and the template's translation
filled in with them. A message that matches no template is shown as it is.

Every template is a Babel msgid (``N_`` marks it for ``pybabel extract``); its ``%(name)s`` parameters
match any text, and a parameter named ``message`` (or ``detail``) is itself translated, so that
"must match one of the allowed forms (id_number: resident ID check digit should be X (GB 11643))"
is translated through and through.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

from flask import has_request_context
from flask_babel import get_locale, gettext


def N_(text: str) -> str:
    """Mark ``text`` as a msgid for extraction; it is translated when shown."""
    return text


#: Stable English messages, most specific first (the first whole match wins).
TEMPLATES = (
    # sync run logs, first: their words must win over the looser templates below ("%(value)s is not a
    # date"), and a batch line with rows' details before the same line without (its last parameter would
    # take the details); the lines without "not mapped" are those of runs before the source digests
    N_("batch %(batch)s committed: %(rows)s rows: inserted %(inserted)s, updated %(updated)s, unchanged "
       "%(unchanged)s (%(not_mapped)s not mapped: the same source row as the record's), quarantined "
       "%(quarantined)s; %(row_errors)s"),
    N_("batch %(batch)s committed: %(rows)s rows: inserted %(inserted)s, updated %(updated)s, unchanged "
       "%(unchanged)s (%(not_mapped)s not mapped: the same source row as the record's), skipped %(skipped)s; "
       "%(row_errors)s"),
    N_("batch %(batch)s committed: %(rows)s rows: inserted %(inserted)s, updated %(updated)s, unchanged "
       "%(unchanged)s, quarantined %(quarantined)s; %(row_errors)s"),
    N_("batch %(batch)s committed: %(rows)s rows: inserted %(inserted)s, updated %(updated)s, unchanged "
       "%(unchanged)s (%(not_mapped)s not mapped: the same source row as the record's), quarantined "
       "%(quarantined)s"),
    N_("batch %(batch)s committed: %(rows)s rows: inserted %(inserted)s, updated %(updated)s, unchanged "
       "%(unchanged)s (%(not_mapped)s not mapped: the same source row as the record's), skipped %(skipped)s"),
    N_("batch %(batch)s committed: %(rows)s rows: inserted %(inserted)s, updated %(updated)s, unchanged "
       "%(unchanged)s, quarantined %(quarantined)s"),
    N_("batch %(batch)s: %(rows)s rows superseded by a later row with the same key (first: %(rows_keys)s)"),
    N_("batch %(batch)s: %(deleted)s of the %(deletions)s deletions the source reported removed a record "
       "(the others were not stored here)"),
    N_("row %(row)s (key %(key)s)"),
    N_("row %(row)s: %(message)s"),
    N_("read ahead: %(rows)s rows, %(keys)s distinct keys in %(seconds)s s"),
    N_("read ahead: %(rows)s rows, %(keys)s distinct keys (%(repeated)s rows repeat a key: the last occurrence "
       "wins) in %(seconds)s s"),
    N_("%(rows)s rows were the same source rows as their stored records' (same mapping and schema): counted "
       "unchanged without mapping or validating them"),
    N_("mirror: %(deleted)s records missing from the source deleted"),
    N_("mirror: no valid record was read, so nothing is deleted (an empty or unreadable export must not empty "
       "the dataset)"),
    N_("deletion at row %(row)s ignored: its key does not map: %(detail)s"),
    N_("transform workers unavailable (%(error)s): rows are mapped in the run's process"),
    N_("transform workers map column by column (the rows the columnar plan does not vouch for: one by one)"),
    N_("transform workers map row by row (the mapping or the schema holds what the columnar plan does not "
       "express)"),
    N_("columnar transform failed (%(error)s): the batch is mapped row by row"),
    N_("a transform worker stopped (%(error)s): the rest of the run maps rows in its own process"),
    N_("the %(rows)s rows read before the source failed were not written: %(message)s"),
    N_("%(message)s; retry %(attempt)s of %(retries)s in %(seconds)s s"),
    N_("%(invalid)s of %(considered)s rows (%(share)s) were invalid and quarantined (max_invalid %(most)s); the "
       "others were written. Most frequent: %(reasons)s"),
    N_("%(invalid)s of %(considered)s rows (%(share)s) were invalid and skipped (max_invalid %(most)s); the "
       "others were written. Most frequent: %(reasons)s"),
    N_("%(invalid)s of %(considered)s rows (%(share)s) were invalid, more than the job allows (max_invalid "
       "%(most)s); the valid rows were written. Most frequent: %(reasons)s"),
    N_("%(field)s [%(keyword)s] on %(rows)s rows, e.g. %(message)s"),
    N_("sync failed: %(message)s"),
    N_("sync %(run_status)s: %(stream)s in %(seconds)s s; %(counts)s"),
    # the sources' and targets' own lines (connectors/sources, connectors/targets)
    N_("%(file)s: reading as %(encoding)s"),
    N_("%(where)s: column %(position)s repeats the header %(name)s; it is read as %(renamed)s"),
    N_("%(rows)s rows have no %(column)s (NULL) and are not read: the cursor column must be filled"),
    N_("the saved state %(state)s is not a change-feed cursor; reading the feed from the start"),
    N_("the saved state %(state)s is not a datastore_search offset; reading from the start"),
    N_("the peer offers datastore_changes: reading the change feed"),
    N_("the peer does not offer datastore_changes: reading with datastore_search (a full read)"),
    N_("the peer no longer knows the saved cursor (its DataStore table was created again): reading its change "
       "feed from the start"),
    N_("DCAT paging returned to %(page)s; stopping"),
    N_("the state file %(file)s belongs to resource %(resource)s, not %(expected)s: starting from no state"),
    N_("run %(run)s is %(run_status)s, not queued: its message is dropped"),
    N_("sync job %(job)s was already running when a worker took this run"),
    # package_search's q, fq and sort (catalog/search/query.py, conditions.py, service.py), first: their
    # " at position N" must not be taken for a parameter of a later, looser template
    N_("unexpected quote right after %(before)s at position %(position)s (a space between clauses?)"),
    N_("unexpected %(token)s right after %(before)s at position %(position)s (a space between clauses?)"),
    N_("unknown field %(field)s at position %(position)s; fields: %(fields)s"),
    N_("unbalanced '(' at position %(position)s (never closed)"),
    N_("dangling operator %(operator)s at position %(position)s: nothing follows it"),
    N_("the query ends too early at position %(position)s (unfinished range?)"),
    N_("clauses nested more than %(depth)s deep at position %(position)s"),
    N_("the wildcard '?' at position %(position)s is not supported (escape it as \\?)"),
    N_("a wildcard '*' at position %(position)s is only supported at the end of a word (prefix*)"),
    N_("item %(index)s: %(message)s"),
    N_("%(message)s at position %(position)s"),
    N_("unbalanced ')'"),
    N_("empty quoted value"),
    N_("local parameters {!...} are not supported"),
    N_("unbalanced quote (never closed)"),
    N_("boosts (^) are not supported"),
    N_("fuzzy and proximity searches (~) are not supported"),
    N_("missing value after ':'"),
    N_("lone %(operator)s without a clause"),
    N_("dangling backslash"),
    N_("unexpected %(token)s (ranges are written field:[a TO b])"),
    N_("operator %(operator)s without a clause before it"),
    N_("unexpected %(token)s"),
    N_("expected a string"),
    N_("invalid sort: empty sort clause (item %(item)s)"),
    N_("invalid sort: unknown field %(field)s; allowed: %(fields)s"),
    N_("invalid sort: unknown direction %(direction)s for %(field)s; use asc or desc"),
    N_("invalid sort: %(clause)s; expected 'field asc' or 'field desc'"),
    N_("unknown date unit %(unit)s (YEAR, MONTH, DAY, HOUR, MINUTE, SECOND)"),
    N_("%(value)s is not a date (2026-01-01T00:00:00Z, NOW-1DAY, ...)"),
    N_("%(value)s is not a valid date"),
    N_("%(field)s takes a date or a range, not a prefix"),
    N_("capacity must be public or private"),
    N_("no word to search for in %(text)s"),
    N_("ranges on %(field)s are not supported (only on dates, num_resources, num_tags and code fields)"),
    N_("%(field)s takes a whole number, not %(value)s"),
    N_("cannot facet on %(fields)s; available: %(available)s"),
    N_("must be at most %(count)s characters (it has %(length)s)"),
    # schemas/formats.py: one message per rule, naming the standard
    N_("resident ID must be 17 digits followed by a digit or X (GB 11643)"),
    N_("resident ID birth date %(date)s is not a real date (GB 11643)"),
    N_("resident ID birth date %(date)s is out of range (GB 11643)"),
    N_("resident ID check digit should be %(expected)s (GB 11643)"),
    N_("unified social credit code must be 18 characters from 0-9 and A-Z without I, O, Z, S, V (GB 32100)"),
    N_("unified social credit code check character should be %(expected)s (GB 32100)"),
    N_("division code must be 6 digits (GB/T 2260) or 12 digits (statistical code)"),
    N_("division code must start with a province code (GB/T 2260)"),
    N_("township code %(code)s must be 001-099 (street), 100-199 (town), 200-399 (township) or 400-599 (other) "
       "(statistical division code)"),
    N_("mobile number must be 11 digits starting with 13 to 19"),
    N_("household number must be 18 digits: 12-digit statistical division code, 2-digit group, "
       "4-digit household"),
    N_("date must be written as YYYY-MM-DD, e.g. 2026-01-03 (RFC 3339)"),
    N_("date %(value)s is not a real calendar date (RFC 3339)"),
    N_("date and time must be written as YYYY-MM-DDThh:mm:ss with a time zone, e.g. 2026-01-03T09:30:00+08:00 "
       "(RFC 3339)"),
    N_("date and time %(value)s is not a real calendar date and time (RFC 3339)"),
    N_("time zone offset of %(value)s is out of range (RFC 3339)"),
    # the schemas' own x-messages
    N_("must be the 12-digit statistical division code (county 6 + township 3 + village 3 digits), "
       "e.g. 610923100201"),
    N_("must be a service item code (GB/T 39554.1): 10 to 64 digits, capital letters or '-', e.g. 000201001000"),
    N_("must be 6 to 64 letters, digits or '-' (starting with a letter or digit)"),
    N_("must be lower-case letters, digits, - or _ only"),
    N_("must be the classification code and a 6-digit sequence code separated by '/', e.g. 101001/000123"),
    N_("must be a classification code: class (1 digit) + item (2) [+ subitem (3) + detail], e.g. 101 or 101001"),
    N_("must be a date written as YYYY-MM-DD"),
    N_("must be a resource code such as 101001/000123"),
    N_("must name a record schema as name@version, e.g. household@1"),
    # schemas/registry.py: JSON Schema keywords
    N_("Missing value"),
    N_("unknown field: the schema does not declare it"),
    N_("unknown field(s): %(fields)s"),
    N_("must match exactly one of the allowed forms, but matches several"),
    N_("must match one of the allowed forms (%(where)s: %(message)s)"),
    N_("must match one of the allowed forms (%(message)s)"),
    N_("must match one of the allowed forms"),
    N_("must be one of: %(values)s"),
    N_("must be a valid %(format)s"),
    N_("must be at least %(count)s characters"),
    N_("must be at most %(count)s characters"),
    N_("must have at least 1 entry"),
    N_("must have at least %(count)s entries"),
    N_("must have at most %(count)s entries"),
    N_("must not contain duplicates"),
    N_("must be >= %(limit)s"),
    N_("must be <= %(limit)s"),
    N_("must be > %(limit)s"),
    N_("must be < %(limit)s"),
    N_("does not have the expected form (%(pattern)s)"),
    N_("must be %(types)s"),
    # the sync engine's value conversions (connectors/coerce.py) and mapping
    N_("%(value)s is not a date-time"),
    N_("%(value)s is not a date"),
    N_("%(value)s is not an integer"),
    N_("%(value)s is not a number"),
    N_("%(value)s is not a yes/no value (是/否, Y/N, true/false)"),
    # the web forms and services
    N_("Missing value: a refusal must state its reasons"),
    N_("Missing value: give a url or upload a file"),
    N_("Missing value: give the fixed record"),
    N_("Missing value: say what was done with the data"),
    N_("Missing value: say why"),
    N_("Missing value: say why the answer needs more time"),
    N_("a department does not need to request its own data"),
    N_("a token can live at most 10 years"),
    N_("must not be in the future"),
    N_("must be a date in the future"),
    N_("is not your current password"),
    N_("must be an http, https or ftp address"),
    # resources
    N_("no resource %(id)s in dataset %(name)s"),
    N_("lists a resource a second time"),
    N_("You cannot reorder resources of dataset %(name)s"),
    # refusals and missing objects (the 403 and 404 pages, the API's envelope)
    N_("%(thing)s not found: %(id)s"),
    N_("API token not found"),
    N_("You cannot add resources to dataset %(name)s"),
    N_("You cannot change dataset %(name)s"),
    N_("You cannot change sync job %(name)s"),
    N_("You cannot create datasets in organization %(name)s"),
    N_("You cannot define sync jobs for dataset %(name)s"),
    N_("You cannot delete dataset %(name)s"),
    N_("You cannot delete records of dataset %(name)s"),
    N_("You cannot delete resources of dataset %(name)s"),
    N_("You cannot delete sync job %(name)s"),
    N_("You cannot edit dataset %(name)s"),
    N_("You cannot edit resources of dataset %(name)s"),
    N_("You cannot move datasets into organization %(name)s"),
    N_("You cannot run sync job %(name)s"),
    N_("You cannot see the account %(name)s"),
    N_("You cannot write records of dataset %(name)s"),
    N_("You cannot filter or sort on masked fields: %(fields)s"),
    N_("Log in or give an API token"),
    N_("Only sysadmins can create user accounts"),
    N_("Only the account's owner or a sysadmin can set its password"),
    N_("Only sysadmins and the organization's admins can manage its members"),
    N_("Only sysadmins and the organization's admins can edit it"),
    N_("Only the organization's members can see its member list"),
    N_("Only the providing department sees its quarantined rows"),
    N_("Only the providing department's editors can discard quarantined rows"),
    N_("Only the providing department's admins (or the data authority) decide on requests"),
    N_("Only the two departments concerned can see this request"),
    N_("Only editors and admins of %(name)s can request data for it"),
    N_("You can only create API tokens for your own account"),
    N_("You can only list your own API tokens"),
    N_("You can only revoke your own API tokens"),
    N_("The API token is not valid (unknown or revoked)"),
    N_("The API token has expired"),
    N_("The API token's account is disabled"),
    # sync run logs (catalog/sync/service.py and the engine's lines)
    N_("queued for a worker"),
    N_("started"),
    N_("sync of %(stream)s started: mode %(mode)s, write %(write)s, on_invalid %(on_invalid)s, from the start"),
    N_("sync of %(stream)s started: mode %(mode)s, write %(write)s, on_invalid %(on_invalid)s, from state %(state)s"),
    # the Action API's own refusals
    N_("Action name not known: %(name)s"),
    N_("%(name)s changes data: call it with POST"),
    N_("This API token is read-only; use a token with write scope"),
    N_("The object was changed by someone else at the same time; reload and retry"),
    N_("The change clashes with existing data (a name or code already in use?)"),
    N_("The request body is larger than the limit"),
    N_("The request body is not valid JSON: %(detail)s"),
    N_("The request body must be a JSON object of parameters"),
    N_("The request body nests deeper than %(depth)s levels"),
    N_("must not contain the NUL character (\\u0000)"),
    N_("An unexpected error occurred; it has been logged"),
    N_("The service is temporarily unavailable: the %(dependency)s cannot be reached; "
       "try again in %(seconds)s seconds"),
    # the share workflow (catalog/sharing)
    N_("Missing value: a refusal must state its reasons"),
    N_("Missing value: name the law, rule or duty the use rests on (使用依据)"),
    N_("Missing value: describe where and how the data is used (应用场景)"),
    N_("Missing value: say what the data will be used for"),
    N_("Missing value: say why the answer needs more time"),
    N_("Missing value: say what was done with the data"),
    N_("Missing value: say why"),
    N_("Missing value: %(count)s department(s) hold grants on dataset %(name)s; say why its sharing stops or "
       "narrows (%(changes)s)"),
    N_("must be a number of working days from 1 to %(most)s"),
    N_("say what is missing in %(part)s"),
    N_("The deadline %(date)s has passed: an extension is asked for before it"),
    N_("A request is extended once; its extension was already %(status)s"),
    N_("The request was returned once already: what is missing is listed all at once"),
    N_("Use records are kept for the retention period (3 years by default): this one until %(date)s"),
    # the catalog review (catalog/review)
    N_("Publishing needs the data authority's review: keep the dataset a draft and submit it (package_submit)"),
    N_("The dataset is submitted for review; wait for the data authority's decision before changing it"),
    N_("The catalog review is off (CATALOG_CATALOG_REVIEW=false): publish the dataset directly"),
    N_("Only a draft is submitted for publication; this dataset is %(state)s"),
    N_("The dataset is already waiting for the data authority's review"),
    N_("Missing value: a return says what to fix"),
    N_("Missing value: say what to fix"),
    N_("That review is %(status)s already; reload the dataset"),
    N_("The dataset is not waiting for a review (decided already, or never submitted)"),
    N_("The published value changed since this revision was proposed; return it so the department proposes it again"),
    N_("The dataset is %(state)s; only a draft is published"),
    N_("The dataset is %(state)s: a revision applies to a published one"),
    N_("is not a dataset field; use one of: %(fields)s"),
    # correction requests (catalog/objections) and the demand list (catalog/demands)
    N_("Missing value: name the fields whose values you doubt"),
    N_("Missing value: give keys, filters, or scope dataset"),
    N_("Missing value: keys and filters name records of a resource"),
    N_("Missing value: give keys or filters (or no resource_id to object to the whole dataset)"),
    N_("Missing value: name the record changes (change numbers or record keys) that corrected the data"),
    N_("Missing value: list the data items (fields) needed"),
    N_("must be text"),
    N_("must be an absolute http:// or https:// URL"),
    N_("not a DataStore resource of this dataset"),
    N_("unknown field %(name)s; fields: %(fields)s"),
    N_("no such record: %(key)s"),
    N_("the filters match no record"),
    N_("the filters match more than %(count)s records; narrow them or object to the whole dataset"),
    N_("at most %(count)s records; object to the whole dataset instead"),
    N_("give keys or filters, not both"),
    N_("each key is the record's _key text or an object of its key fields"),
    N_("must be a non-empty list of record keys"),
    N_("the provider corrects its own data directly"),
    N_("no record holds change %(n)s"),
    N_("several resources hold it: name it by change number"),
    N_("record %(key)s was last changed before the correction request was filed"),
    N_("a change number or a record key"),
    N_("only a corrected outcome links record changes"),
    N_("The correction request is already %(status)s"),
    N_("The demand is already %(status)s"),
    N_("Only assigned demands are answered; this one is %(status)s"),
    N_("the source department must be another department than the one that needs the data"),
    N_("link a dataset of the source department"),
    N_("the dataset is deleted"),
)

#: JSON Schema type names inside "must be a string or null".
TYPES = {"a string": N_("a string"), "an integer": N_("an integer"), "a number": N_("a number"),
         "an object": N_("an object"), "an array": N_("an array"), "a boolean": N_("a boolean"),
         "a null": N_("null")}
#: What a "… not found: <id>" message names.
THINGS = {"Dataset": N_("Dataset"), "Resource": N_("Resource"), "Organization": N_("Organization"),
          "User": N_("User"), "Sync job": N_("Sync job"), "Sync run": N_("Sync run"),
          "Share request": N_("Share request"), "Share grant": N_("Share grant"),
          "Quarantine entry": N_("Quarantine entry"), "Connection": N_("Connection"), "Tag": N_("Tag"),
          "Group": N_("Group"), "Record schema": N_("Record schema"), "Correction request": N_("Correction request"),
          "Demand": N_("Demand"), "Review": N_("Review"), "Use record": N_("Use record"),
          "Webhook subscription": N_("Webhook subscription")}
#: A sync job's settings and a run's outcome, in words (the job and run pages, and the run's log lines).
SYNC_MODES = {"full_refresh": N_("full refresh (read the whole source)"),
              "incremental": N_("incremental (from the saved state)")}
SYNC_WRITES = {"append": N_("append"), "upsert": N_("insert or update by key"),
               "mirror": N_("mirror (delete records the source no longer has)")}
SYNC_ON_INVALID = {"quarantine": N_("quarantine invalid rows"), "fail": N_("fail the run"),
                   "skip": N_("skip invalid rows")}
SYNC_SOURCES = {"csv": N_("CSV file"), "xlsx": N_("Excel workbook"), "sql": N_("database table"),
                "http_json": N_("HTTP JSON API"), "ckan": N_("CKAN catalog"), "dcat": N_("DCAT catalog")}
RUN_STATUSES = {"running": N_("Running"), "succeeded": N_("Succeeded"), "failed": N_("Failed"),
                "succeeded_with_errors": N_("Succeeded with errors"), "queued": N_("Queued"),
                "skipped": N_("Skipped"), "expired": N_("Expired")}
RUN_COUNTS = {"read": N_("Rows read"), "inserted": N_("Inserted"), "updated": N_("Updated"),
              "unchanged": N_("Unchanged"), "quarantined": N_("Quarantined"), "skipped": N_("Skipped rows"),
              "superseded": N_("Superseded by a later row"), "deleted": N_("Deleted")}
RUN_TRIGGERS = {"manual": N_("Started by hand"), "schedule": N_("Schedule"), "api": N_("API call"),
                "cli": N_("Command line"), "demo": N_("Demo data")}
#: Parameters named after one of the tables above: their value is shown in words.
_VALUES = {"mode": SYNC_MODES, "write": SYNC_WRITES, "on_invalid": SYNC_ON_INVALID, "run_status": RUN_STATUSES}
#: Parameters whose value is itself a message.
_NESTED = {"message", "detail"}
#: Parameters whose value is a list of messages, with the separator between them (a msgid: "；" in Chinese).
_LISTS = {"reasons": N_("; "), "rows_keys": N_(", "), "row_errors": N_("; ")}


def term(table: dict[str, str], value: str | None) -> str:
    """``value`` (a stored code such as ``full_refresh``) in words, in the request's language; unknown: as is."""
    if value in table:
        return gettext(table[value])
    return value or "—"


_PARAM = re.compile(r"%\((\w+)\)s")
_FIELD_PREFIX = re.compile(r"([\w.*]+): (.+)", re.DOTALL)


@lru_cache(maxsize=1)
def _patterns() -> tuple[tuple[re.Pattern[str], str], ...]:
    compiled = []
    for template in TEMPLATES:
        pieces, last = [], 0
        for match in _PARAM.finditer(template):
            pieces.append(re.escape(template[last:match.start()]))
            pieces.append(f"(?P<{match.group(1)}>.+?)" if match.group(1) not in _NESTED | _LISTS.keys()
                          else f"(?P<{match.group(1)}>.+)")
            last = match.end()
        pieces.append(re.escape(template[last:]))
        compiled.append((re.compile("".join(pieces), re.DOTALL), template))
    return tuple(compiled)


def english() -> bool:
    """Whether this request reads English (outside a request: yes, the messages' own language)."""
    if not has_request_context():
        return True
    locale = get_locale()
    return locale is None or locale.language == "en"


def translate(message: str, field_label: Callable[[str], str] | None = None) -> str:
    """``message`` in the request's language: a known template translated with its parameters, else as it is.

    ``field_label`` names a record field (``last_visit_date`` → 最近走访日期) where a message starts with one
    (``last_visit_date: … is not a date``); without it the field's key is shown.
    """
    if not isinstance(message, str) or not message or english():
        return message
    return _translate(message, 0, field_label or _as_is)


def _as_is(path: str) -> str:
    return path


def _translate(message: str, depth: int, field_label: Callable[[str], str]) -> str:
    if depth > 5:
        return message
    field = _FIELD_PREFIX.fullmatch(message)
    if field is not None and field_label(field.group(1)) != field.group(1):  # a record field, named by its label
        return f"{field_label(field.group(1))}：{_translate(field.group(2), depth + 1, field_label)}"
    for pattern, template in _patterns():
        found = pattern.fullmatch(message)
        if found is None:
            continue
        params = found.groupdict()
        if template == "%(thing)s not found: %(id)s":
            if params["thing"] not in THINGS:
                continue
            params["thing"] = gettext(THINGS[params["thing"]])
        if template == "must be %(types)s":
            kinds = params["types"].split(" or ")
            if not all(kind in TYPES for kind in kinds):
                continue
            params["types"] = gettext(" or ").join(gettext(TYPES[kind]) for kind in kinds)
        for name in _NESTED & params.keys():
            params[name] = _translate(params[name], depth + 1, field_label)
        for name in _LISTS.keys() & params.keys():
            separator = _LISTS[name]
            params[name] = gettext(separator).join(_translate(part, depth + 1, field_label)
                                                   for part in params[name].split(separator))
        for name in _VALUES.keys() & params.keys():
            params[name] = term(_VALUES[name], params[name])
        if "counts" in params:
            params["counts"] = _counts(params["counts"])
        return gettext(template, **params)
    if message.endswith(" …"):  # a list cut short ("row 1: …; row 2: …; row 3: … …")
        return _translate(message[:-2], depth + 1, field_label) + " …"
    if "; " in message:  # a run's summary: "field: message; field: message"
        return "；".join(_translate(part, depth + 1, field_label) for part in message.split("; "))
    field = _FIELD_PREFIX.fullmatch(message)
    if field is not None:
        return f"{field_label(field.group(1))}：{_translate(field.group(2), depth + 1, field_label)}"
    return message


def _counts(text: str) -> str:
    """A run summary's ``read 32, inserted 30, …`` in words; as it is unless every part is a known count."""
    parts = [part.rsplit(" ", 1) for part in text.split(", ")]
    if not all(len(part) == 2 and part[0] in RUN_COUNTS for part in parts):
        return text
    return gettext(", ").join(f"{term(RUN_COUNTS, name)} {value}" for name, value in parts)


_LOG_LINE = re.compile(r"(\d\d:\d\d:\d\d(?:\.\d+)?(?: (?:INFO|WARNING|ERROR))?) (.*)", re.DOTALL)


def translate_log_line(line: str, field_label: Callable[[str], str] | None = None) -> str:
    """A run's log line (``09:30:01.250 INFO batch 1 committed: …``): the time and level kept, the rest
    translated, record fields named by ``field_label`` (see :func:`translate`)."""
    found = _LOG_LINE.fullmatch(line) if isinstance(line, str) else None
    if found is None or english():
        return line
    return f"{found.group(1)} {translate(found.group(2), field_label)}"


def translate_errors(errors: dict[str, list[str]]) -> dict[str, list[str]]:
    """A ValidationError's ``{field: [messages]}`` with each message translated (the shape kept as it is)."""
    if english():
        return errors
    return {field: [translate(m) for m in msgs] if isinstance(msgs, list) else translate(msgs)
            for field, msgs in errors.items()}
