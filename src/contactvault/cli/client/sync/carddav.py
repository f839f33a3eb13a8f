"""CardDAV address books (RFC 6352): one vCard 4.0 per person, read in batches, written under ETag preconditions.

A person's card is ``<collection>/contactvault-<personnel id>.vcf`` with a ``UID`` derived from the personnel id,
so both are the same on every run and every machine. Per batch, ``read`` asks for those cards with one
``REPORT addressbook-multiget`` and, for the people without one, for cards carrying their email with one
``REPORT addressbook-query`` (a card someone made by hand is updated, not duplicated). A create is a ``PUT`` with
``If-None-Match: *`` and an update a ``PUT`` of the card as read, edited, with ``If-Match: <etag>``: a card that
changed on the server in between answers 412, is read again and decided once more; a second 412 refuses the record
(exit 4, retried by the next run). Erasures act only on the cards this tool created (the checkpoint's ledger).
"""

from __future__ import annotations

import contextlib
import copy
import os
import re
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping, Sequence
from urllib.parse import urljoin, urlsplit

import httpx

from contactvault.cli.client.sync import vcard
from contactvault.cli.client.sync.checkpoint import Checkpoint
from contactvault.cli.client.sync.engine import ApplyResult
from contactvault.cli.client.sync.http import TargetError, send
from contactvault.cli.client.sync.plan import ID_FIELD, Action, Contact, Existing, FieldMap, Kind, batches, decide
from contactvault.cli.common import EXIT_USAGE, fail

__all__ = ["CardDAVTarget", "open_target", "property_name", "uid_of"]

DAV, CARD = "DAV:", "urn:ietf:params:xml:ns:carddav"
LIMIT = 100
TIMEOUT = 15.0
PRODID = "-//contactvault//sync//EN"
# Fixed forever: a person's UID must not change between runs, versions or machines.
UID_NAMESPACE = uuid.UUID("6f2b7f0e-3c55-5d0c-9a51-0c4e6d1a2b7c")
PROPERTIES = {
    "email": "EMAIL",
    "phone": "TEL",
    ID_FIELD: "X-CONTACTVAULT-ID",
    "contactvault_source": "X-CONTACTVAULT-SOURCE",
    "contactvault_verification_status": "X-CONTACTVAULT-VERIFICATION-STATUS",
    "contactvault_verification_score": "X-CONTACTVAULT-VERIFICATION-SCORE",
    "contactvault_unlocked_at": "X-CONTACTVAULT-UNLOCKED-AT",
}
PARAMS = {"EMAIL": ";TYPE=work", "TEL": ";TYPE=work"}
ERASED = "X-CONTACTVAULT-ERASED"
RESERVED = frozenset({"BEGIN", "END", "VERSION", "UID", "PRODID"})


def property_name(field: str) -> str:
    """The vCard property a target field lives in: the table above, else the field upper-cased (``note`` → NOTE)."""
    name = PROPERTIES.get(field) or re.sub(r"[^A-Z0-9-]", "-", field.upper())
    return f"X-{name}" if name in RESERVED else name


def uid_of(personnel_id: str) -> str:
    """The UID of the card this tool writes for a person."""
    return f"urn:uuid:{uuid.uuid5(UID_NAMESPACE, personnel_id)}"


def new_card(personnel_id: str, contact: Contact | None, values: Mapping[str, str]) -> vcard.Card:
    """A new card: FN (the name, else the email or phone), N, ORG and TITLE when known, then ``values``."""
    extra: Mapping[str, str] = contact.values if contact is not None else {}
    name = extra.get("full_name", "").strip()
    head = [("VERSION", "4.0"), ("PRODID", PRODID), ("UID", uid_of(personnel_id))]
    card = vcard.Card([vcard.Property(name, value) for name, value in head])
    card.set("FN", name or extra.get("email", "") or extra.get("phone", "") or f"contactvault {personnel_id}")
    if name:
        *given, family = name.split()
        card.set_raw("N", f"{vcard.escape(family)};{vcard.escape(' '.join(given))};;;")
    for key, prop in (("company_name", "ORG"), ("title", "TITLE")):
        if extra.get(key, "").strip():
            card.set(prop, extra[key].strip())
    edit(card, values)
    return card


def edit(card: vcard.Card, values: Mapping[str, str]) -> None:
    """Write ``values`` (target field names) into their properties; every other line stays as it was."""
    for field, value in values.items():
        prop = property_name(field)
        card.set(prop, value, PARAMS.get(prop, ""))


def _element(tag: str, parent: ET.Element | None = None, **attrs: str) -> ET.Element:
    ns, _, name = tag.partition(":")
    clark = f"{{{DAV if ns == 'D' else CARD}}}{name}"
    return ET.Element(clark, attrs) if parent is None else ET.SubElement(parent, clark, attrs)


def _report_body(root: ET.Element) -> bytes:
    prop = _element("D:prop")
    _element("D:getetag", prop)
    _element("C:address-data", prop)
    root.insert(0, prop)
    body: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return body


def multiget_body(hrefs: Sequence[str]) -> bytes:
    """``addressbook-multiget`` of these hrefs: their ETags and vCards."""
    root = _element("C:addressbook-multiget")
    for href in hrefs:
        _element("D:href", root).text = href
    return _report_body(root)


def query_body(emails: Sequence[str]) -> bytes:
    """``addressbook-query`` for the cards with any of these emails (equal, case-insensitive)."""
    root = _element("C:addressbook-query")
    where = _element("C:filter", root, test="anyof")
    for email in emails:
        prop_filter = _element("C:prop-filter", where, name="EMAIL")
        match = _element("C:text-match", prop_filter, collation="i;unicode-casemap")
        match.set("match-type", "equals")
        match.text = email
    return _report_body(root)


def _error(response: httpx.Response) -> str:
    hint = " (check $CARDDAV_USERNAME and $CARDDAV_PASSWORD)" if response.status_code in (401, 403) else ""
    return f"CardDAV answered {response.status_code} to {response.request.method}{hint}"


class CardDAVTarget:
    """One address-book collection; ``http`` carries the basic auth."""

    name = "carddav"
    batch_size = LIMIT

    def __init__(self, http: httpx.Client, collection_url: str, point: Checkpoint) -> None:
        self.http = http
        self.url = collection_url if collection_url.endswith("/") else collection_url + "/"
        self.path = urlsplit(self.url).path
        self.point = point
        self.fields = FieldMap.default()
        self.contacts: dict[str, Contact] = {}
        self.cards: dict[str, tuple[str, vcard.Card]] = {}  # href → (ETag, card) as last read

    def own_href(self, personnel_id: str) -> str:
        """The path of the card this tool writes for a person."""
        return f"{self.path}contactvault-{personnel_id}.vcf"

    def _report(self, body: bytes, depth: str) -> dict[str, tuple[str, vcard.Card]]:
        """Send a REPORT; the cards it found by href (unreadable cards are left out)."""
        headers = {"content-type": "application/xml; charset=utf-8", "depth": depth}
        response = send(self.http, "REPORT", self.url, content=body, headers=headers)
        if response.status_code != 207:
            raise TargetError(_error(response), response)
        try:
            # Python's expat refuses entity expansion attacks, and ElementTree never fetches external entities.
            root = ET.fromstring(response.content)  # noqa: S314
        except ET.ParseError:
            raise TargetError("CardDAV answered a multistatus that is not XML", response) from None
        found: dict[str, tuple[str, vcard.Card]] = {}
        for item in root.iter(f"{{{DAV}}}response"):
            # Only the path, and only inside the collection: the credentials never go to another host or book.
            href = urlsplit(urljoin(self.url, item.findtext(f"{{{DAV}}}href", "").strip())).path
            if not href.startswith(self.path):
                continue
            for propstat in item.iter(f"{{{DAV}}}propstat"):
                status = propstat.findtext(f"{{{DAV}}}status", "").split()
                data = propstat.findtext(f".//{{{CARD}}}address-data")
                if len(status) < 2 or status[1] != "200" or not data:
                    continue
                with contextlib.suppress(ValueError):
                    found[href] = (propstat.findtext(f".//{{{DAV}}}getetag", ""), vcard.parse(data))
        self.cards.update(found)
        return found

    def _existing(self, href: str, contact: Contact) -> Existing:
        card = self.cards[href][1]
        values: dict[str, str] = {}
        for to, _ in self.fields.fields.values():
            prop = property_name(to)
            texts = [t.strip() for t in card.texts(prop)] or [""]
            if prop == "EMAIL":  # the card's email that is this person's, else its first
                emails = [t.lower() for t in texts]
                values[to] = contact.email if contact.email in emails else emails[0]
            elif prop == "TEL":  # a vCard 4.0 TEL may be a tel: URI
                values[to] = texts[0].removeprefix("tel:")
            else:
                values[to] = texts[0]
        return Existing(href, values)

    def read(self, contacts: Sequence[Contact], fields: FieldMap) -> dict[str, Existing]:
        """The cards at the people's own hrefs, then (for the rest) the cards with their emails."""
        self.fields = fields
        self.contacts = {c.personnel_id: c for c in contacts}
        self.cards = {}  # this batch's only
        found: dict[str, Existing] = {}
        own = self._report(multiget_body([self.own_href(c.personnel_id) for c in contacts]), "0")
        for c in contacts:
            href = self.own_href(c.personnel_id)
            if href in own:
                found[c.personnel_id] = self._existing(href, c)
                uid = own[href][1].first("UID")
                # Ours by construction (its name and UID): a crash may have kept it out of the ledger.
                ours = uid is not None and uid.text == uid_of(c.personnel_id)
                if ours and c.personnel_id not in self.point.created:
                    self.point.remember_created({c.personnel_id: href})
        rest = [c for c in contacts if c.personnel_id not in found and c.email]
        if rest:
            by_email: dict[str, str] = {}
            cards = self._report(query_body(sorted({c.email for c in rest})), "1")
            for href in sorted(cards):
                for email in cards[href][1].texts("EMAIL"):
                    by_email.setdefault(email.strip().lower(), href)
            for c in rest:
                if c.email in by_email:
                    found[c.personnel_id] = self._existing(by_email[c.email], c)
        return found

    def calls(self, actions: Sequence[Action]) -> list[str]:
        """One PUT per new or changed card."""
        result = []
        creates = sum(a.kind == Kind.CREATE for a in actions)
        updates = sum(a.kind == Kind.UPDATE for a in actions)
        if creates:
            result.append(f"PUT {creates} new card(s) into {self.path} (If-None-Match: *)")
        if updates:
            result.append(f"PUT {updates} changed card(s) (If-Match: <etag>)")
        return result

    def apply(self, actions: Sequence[Action]) -> ApplyResult:
        """Create the new cards, update the changed ones; report per-card failures."""
        result = ApplyResult()
        for action in actions:
            if action.kind in (Kind.CREATE, Kind.UPDATE):
                self._write(action, result, retried=False)
        return result

    def _put(self, href: str, card: vcard.Card, etag: str | None) -> httpx.Response:
        headers = {"content-type": "text/vcard; charset=utf-8"}
        if etag is None:
            headers["if-none-match"] = "*"
        else:
            headers["if-match"] = etag
        return send(self.http, "PUT", urljoin(self.url, href), content=card.serialize().encode(), headers=headers)

    def _write(self, action: Action, result: ApplyResult, *, retried: bool) -> None:
        pid = action.personnel_id
        if action.kind == Kind.CREATE:
            href, etag = self.own_href(pid), None
            card = new_card(pid, self.contacts.get(pid), action.values)
        else:
            href = action.target_id or ""
            etag, card = self.cards[href][0], copy.deepcopy(self.cards[href][1])
            edit(card, action.values)
        response = self._put(href, card, etag)
        if response.is_success:
            if action.kind == Kind.CREATE:
                result.created[pid] = href
            return
        if response.status_code != 412:
            result.failed[pid] = _error(response)
            return
        if retried:
            result.failed[pid] = "conflict: the card changed on the server again while syncing (412 twice)"
            return
        # Changed (or created) on the server since it was read: read it again and decide once more.
        contact = self.contacts[pid]
        fresh = self._report(multiget_body([href]), "0")
        again = decide(contact, self._existing(href, contact) if href in fresh else None, self.fields)
        if again.kind == Kind.CONFLICT:
            result.failed[pid] = f"conflict: {again.reason}"
        elif again.kind == Kind.CREATE and action.kind == Kind.CREATE:
            result.failed[pid] = "the card exists on the server but cannot be read"
        elif again.kind != Kind.SKIP:
            self._write(again, result, retried=True)

    def erase(self, target_ids: Sequence[str], how: str) -> list[str]:
        """``delete``: DELETE with If-Match; ``flag``: mark the card erased and drop its email, phone and name."""
        calls: list[str] = []
        for chunk in batches(list(target_ids), LIMIT):
            found = self._report(multiget_body(chunk), "0")
            calls.extend(self._erase_one(href, how) for href in chunk if href in found)
        return calls

    def _erase_one(self, href: str, how: str) -> str:
        response = self._erase_request(href, how)
        if response.status_code == 412:  # changed since read: once more on the card as it is now
            if href not in self._report(multiget_body([href]), "0"):
                return f"{href} already gone"
            response = self._erase_request(href, how)
        if not response.is_success and response.status_code != 404:
            raise TargetError(_error(response), response)
        return f"{'DELETE' if how == 'delete' else 'PUT (flagged erased)'} {href} (If-Match: <etag>)"

    def _erase_request(self, href: str, how: str) -> httpx.Response:
        etag, card = self.cards[href]
        if how == "delete":
            return send(self.http, "DELETE", urljoin(self.url, href), headers={"if-match": etag})
        card = copy.deepcopy(card)
        for prop in ("EMAIL", "TEL", "N", "PHOTO"):
            card.remove(prop)
        card.set("FN", "Erased contact")
        card.set(ERASED, "true")
        return self._put(href, card, etag)


@contextlib.contextmanager
def open_target(url: str | None, point: Checkpoint) -> Iterator[CardDAVTarget]:
    """``--to carddav --url COLLECTION``, with basic auth from ``$CARDDAV_USERNAME`` and ``$CARDDAV_PASSWORD``."""
    if not url or not url.startswith(("http://", "https://")):
        fail("--to carddav needs --url, the address book's collection URL (https://host/user/contacts/)", EXIT_USAGE)
    user, password = os.environ.get("CARDDAV_USERNAME", ""), os.environ.get("CARDDAV_PASSWORD", "")
    if bool(user) != bool(password):
        fail("--to carddav: set both $CARDDAV_USERNAME and $CARDDAV_PASSWORD (or neither)", EXIT_USAGE)
    auth = httpx.BasicAuth(user, password) if user else None
    with httpx.Client(auth=auth, timeout=TIMEOUT, follow_redirects=False) as http:
        yield CardDAVTarget(http, url, point)
