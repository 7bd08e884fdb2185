"""README.txt of an evidence pack, written for a court expert: every file, every field, how each check
is done by hand (sha256sum, openssl, pdfsig), worked inclusion and consistency proofs from the pack's
own numbers, and what the pack cannot prove. An expert can write an independent verifier from it
(the tests hold one: ``tests/support/independent_verifier.py``, written from this text alone).
"""

from __future__ import annotations

import base64
import hashlib
import textwrap
from collections.abc import Mapping, Sequence
from typing import Any

from bot.evidence.checkpoint import Checkpoint
from bot.evidence.event_reference import EVENT_REFERENCE
from bot.evidence.merkle import root_from_inclusion_proof, verify_consistency


def readme_text(
    case: str,
    checkpoint: Checkpoint,
    events: list[dict[str, Any]],
    origin: str,
    earlier: Sequence[tuple[Checkpoint, list[bytes]]] = (),
    artifacts: Mapping[str, Mapping[str, Any]] | None = None,
) -> str:
    """The README of a pack about ``case``: ``events`` carry their inclusion proofs, ``earlier`` the
    earlier checkpoints with their consistency proofs, ``artifacts`` the files the events name."""
    sections = [
        _heading(case, checkpoint, origin),
        _files(earlier),
        _manifest_signature(checkpoint),
        _file_hashes(),
        _checkpoints(checkpoint),
        _events(checkpoint, events),
        _chain(events),
        _consistency(checkpoint, earlier),
        _pdfs(),
        _delivery_proofs(artifacts or {}),
        _kinds(),
        _limits(checkpoint),
    ]
    return "\n".join(sections)


def _heading(case: str, checkpoint: Checkpoint, origin: str) -> str:
    return f"""EVIDENCE PACK — {case}
Creditor: {origin}
Checkpoint {checkpoint.id}: the evidence log's first {checkpoint.tree_size} events,
Merkle root {checkpoint.root_hash}.
Signer certificate (checkpoint/signer.pem), SHA-256 fingerprint of its DER form:
   {_fingerprint(checkpoint.certificate_pem)}

This pack proves, without access to dunbot or its database, what was sent to whom and when, with
which content, and what came back. dunbot checks all of it in one command:

   dunbot evidence verify pack.zip          (add --trust company-ca.pem to require the signer's CA)

Every check can also be done by hand with sha256sum, openssl (1.1 or 3.x), xxd and poppler's pdfsig,
as follows. Unzip the pack first and work inside it:   unzip pack.zip -d pack && cd pack
Hashes are SHA-256, written as 64 lower-case hex digits. "‖" means "followed by" (bytes joined).
"""


def _files(earlier: Sequence[tuple[Checkpoint, list[bytes]]]) -> str:
    folders = ", ".join(f"checkpoints/{old.id}/" for old, _ in earlier) or "none in this pack"
    return f"""0. THE FILES OF THIS PACK
   manifest.json        the case, every event in full with its hashes and inclusion proof, the
                        checkpoints, the consistency proofs, the artifacts, and under "files" the
                        SHA-256 of every other file of the pack
   manifest.p7s         the company's signature over manifest.json (detached CMS, DER)
   SHA256SUMS           the "files" list of manifest.json in the format of `sha256sum -c`
   README.txt           this text
   chronology.pdf       every contact and fact of the case in order, signed PAdES by the company
   checkpoint/          the checkpoint every proof leads to:
      statement.txt     the signed text: origin, tree_size, root_hash, time (UTF-8, LF line ends)
      signature.p7s     the company's detached CMS signature over statement.txt (DER)
      signer.pem        the signer's certificate (PEM)
      timestamp.tst     (when present) an RFC 3161 timestamp token over SHA-256(statement.txt)
   checkpoints/<id>/    earlier checkpoints, the same four files; each is the start of a
                        consistency proof (section 6). In this pack: {folders}
   events/<seq>.json    each event of the case exactly as it was hashed (<seq> is 8 digits)
   artifacts/<sha256>.<ext>
                        the files the events name, each named by its own SHA-256; the extension
                        says what it is: .eml an e-mail as sent (RFC 5322), .pdf a signed notice,
                        .json a provider request or answer or a delivery record, .txt a provider's
                        status callback as received (form-encoded), .bin anything else
                        An event names an artifact by its SHA-256: the value of any field of its
                        "data" (at any depth) whose name ends in "_sha256", and each value of a
                        field "artifacts" (a list, or a mapping of file name to hash). Every hash
                        so named must be an artifact of the pack, and every artifact named so by
                        an event of the pack.

   manifest.json, field by field:
      "format"            "dunbot-evidence-pack/1"
      "case"              label, customer {{id, name}}, invoice (or null)
      "origin"            the creditor; "exported_at", "exported_by": when and by whom
      "checkpoint"        id, tree_size, root_hash, at, and the paths of statement, signature,
                          certificate, timestamp (null when none)
      "consistency"       a list of {{"from": <an earlier checkpoint, as above>, "proof": [hex, ...]}}
      "events"            a list of {{seq, kind, file, body (the event parsed), content_hash,
                          chain_hash, leaf_hash, leaf_index (= seq − 1), inclusion_proof: [hex, ...]}}
      "artifacts"         a list of {{sha256, file, size, names (as the events call it),
                          named_by (the seqs of the events that name it)}}
      "chronology"        "chronology.pdf"
      "files"             {{path: sha256}} for every file but manifest.json and manifest.p7s
"""


def _manifest_signature(checkpoint: Checkpoint) -> str:
    return f"""1. THE MANIFEST IS SIGNED BY THE HOLDER OF THE SIGNER CERTIFICATE
   openssl cms -verify -binary -inform DER -in manifest.p7s -content manifest.json \\
       -CAfile checkpoint/signer.pem -purpose any -out /dev/null
   must print "Verification successful" (or "CMS Verification successful").

   Who that is: the certificate is the pack's own, so this proves only that one key signed the
   manifest, every checkpoint and every PDF. Whether the key is the company's is decided outside
   the pack: compare the fingerprint
       openssl x509 -in checkpoint/signer.pem -noout -fingerprint -sha256
   (here {_fingerprint(checkpoint.certificate_pem, ":")})
   with one the company published, or give the issuing CA's certificate as -CAfile instead of
   checkpoint/signer.pem (with dunbot: --trust CA.pem). Every checkpoints/<id>/signer.pem must be
   the same certificate (the same fingerprint, as above), and every PDF's signer (pdfsig, section 7)
   the same subject.
"""


def _file_hashes() -> str:
    return """2. EVERY FILE IS THE ONE THE MANIFEST LISTS
   sha256sum -c SHA256SUMS
   checks every file the manifest lists under "files", including checkpoints/<id>/* and every
   artifact: each line must say "OK". SHA256SUMS is itself listed in manifest.json (which the
   signature covers), so check that its lines are exactly the manifest's "files":
       sha256sum SHA256SUMS                      = "files" → "SHA256SUMS" in manifest.json
   or build the list from the signed manifest directly (with jq, or python3):
       jq -r '.files | to_entries[] | "\\(.value)  \\(.key)"' manifest.json | sha256sum -c -
       python3 -c 'import json; [print(h + "  " + n) for n, h in
           json.load(open("manifest.json"))["files"].items()]' | sha256sum -c -
   Then check that the pack holds no other file: `find . -type f | sort` must list exactly the
   "files" entries, manifest.json and manifest.p7s. An artifact's file name is its own SHA-256
   (before the extension), so for artifacts the name is a second check.
"""


def _checkpoints(checkpoint: Checkpoint) -> str:
    stamp = (
        "   This checkpoint carries an RFC 3161 timestamp (checkpoint/timestamp.tst)."
        if checkpoint.timestamp is not None
        else "   This checkpoint has no RFC 3161 timestamp (no [signing] tsa_url was configured)."
    )
    stamp += "\n   A token proves that the statement existed at the time it gives, by the clock of an"
    return f"""3. THE CHECKPOINTS ARE SIGNED (AND MAYBE TIMESTAMPED)
   cat checkpoint/statement.txt       (tree_size and root_hash are what the proofs lead to)
   openssl cms -verify -binary -inform DER -in checkpoint/signature.p7s \\
       -content checkpoint/statement.txt -CAfile checkpoint/signer.pem -purpose any -out /dev/null
   and the same for every checkpoints/<id>/ (statement.txt with its signature.p7s). The
   statement's tree_size and root_hash must equal the manifest's "checkpoint" (or "from") entry.

{stamp}
   authority independent of the company — only when you trust that authority:
       openssl ts -verify -data checkpoint/statement.txt -in checkpoint/timestamp.tst -token_in \\
           -CAfile <the timestamp authority's CA certificate>       ("Verification: OK")
       openssl ts -reply -in checkpoint/timestamp.tst -token_in -text     (shows "Time stamp:")
   The time must lie inside the signer certificate's validity (openssl x509 -in
   checkpoint/signer.pem -noout -dates) and not before the statement's own "time". Checked against
   the certificates it carries, a token shows only that it is intact and made for this statement:
       openssl pkcs7 -inform DER -in checkpoint/timestamp.tst -print_certs > carried.pem
       openssl ts -verify -data checkpoint/statement.txt -in checkpoint/timestamp.tst -token_in \
           -CAfile carried.pem -partial_chain
"""


def _events(checkpoint: Checkpoint, events: list[dict[str, Any]]) -> str:
    example = _inclusion_example(checkpoint, events[0]) if events else "   (this pack has no events)"
    return f"""4. EVERY EVENT IS IN THE SIGNED LOG
   events/<seq>.json is the event exactly as it was hashed, in canonical JSON: keys sorted (by
   code point), UTF-8 without escapes for non-ASCII, no whitespace between tokens, no floats
   (amounts are decimal strings), times as "YYYY-MM-DDTHH:MM:SS.ffffffZ" (UTC). Its fields: seq,
   at, kind, actor, customer, invoices (sorted), data (section 9). The manifest's "body" is the
   same document parsed; re-encoding it canonically must give the file's bytes. For each event:

   content hash:  sha256sum events/<seq>.json                            = "content_hash"
   leaf hash:     (printf '\\000'; cat events/<seq>.json) | sha256sum     = "leaf_hash"

   The leaf is at index seq − 1 in a tree of tree_size leaves (RFC 9162 §2.1). Interior nodes are
   SHA-256(0x01 ‖ left ‖ right):   printf '01%s%s' LEFT RIGHT | xxd -r -p | sha256sum
   The inclusion proof (RFC 9162 §2.1.3.2) is checked so, with fn = leaf index, sn = tree_size − 1,
   r = leaf hash, for each hash p of "inclusion_proof" in order:
       if sn = 0: fail
       if fn is odd or fn = sn:  r = SHA-256(0x01 ‖ p ‖ r); then, if fn is even, shift fn and sn
                                 right by one bit until fn is odd or fn = 0
       else:                     r = SHA-256(0x01 ‖ r ‖ p)
       shift fn and sn right by one bit
   At the end sn must be 0 and r the checkpoint's root_hash. Worked example, from this pack:
{example}
"""


def _chain(events: list[dict[str, Any]]) -> str:
    by_seq = {e["seq"]: e for e in events}
    pair = next(((by_seq[s - 1], by_seq[s]) for s in sorted(by_seq) if s - 1 in by_seq), None)
    if 1 in by_seq:
        first = by_seq[1]
        worked = (
            "   Worked, event 1 (the first of the log):\n"
            f"   printf '%s%s' {'00' * 32} \\\n"
            f"          {first['content_hash']} | xxd -r -p | sha256sum\n"
            f"      = {first['chain_hash']}"
        )
    elif pair is not None:
        before, after = pair
        worked = (
            f"   Worked, events {before['seq']} and {after['seq']} (both in this pack):\n"
            f"   printf '%s%s' {before['chain_hash']} \\\n"
            f"          {after['content_hash']} | xxd -r -p | sha256sum\n"
            f"      = {after['chain_hash']}"
        )
    else:
        worked = "   (No two events of this pack follow each other in the log, so no link can be shown.)"
    return f"""5. THE CHAIN HASH (checked by dunbot on the whole database, not by this pack)
   Each event's "chain_hash" = SHA-256(previous event's chain_hash ‖ this event's content_hash),
   the hashes taken as 32 raw bytes each; before event 1 stands 32 zero bytes. It links every
   event of the log to all before it, so `dunbot evidence verify --db` notices a change anywhere.
   A pack of one case cannot recompute it: between the case's events lie other customers' events,
   whose content hashes are not in the pack (only the Merkle proofs, which need no neighbours, are
   what the checkpoint signs). It can be checked only where two of the case's events follow each
   other (seq n and n + 1), or for event 1:
{worked}
"""


def _consistency(checkpoint: Checkpoint, earlier: Sequence[tuple[Checkpoint, list[bytes]]]) -> str:
    if earlier:
        old, proof = earlier[-1]
        worked = _consistency_example(old, checkpoint, proof)
    else:
        worked = "   (This pack has no earlier checkpoint: there is no consistency proof to show.)"
    return f"""6. THE LOG ONLY GROWS: CONSISTENCY PROOFS
   Under "consistency", each entry proves that the log this checkpoint signs (n = its tree_size,
   root SR) starts with the log an earlier checkpoint signed (m = its tree_size, root FR): nothing
   an earlier checkpoint covered was changed, removed or reordered since. The earlier checkpoint is
   in checkpoints/<id>/, signed like the one above. RFC 9162 §2.1.4.2, with the hashes of "proof":
       if m = n: the proof must be empty and the roots equal; if m = 0: the proof must be empty
       if m is a power of two: put FR in front of the proof
       fn = m − 1, sn = n − 1; while fn is odd: shift fn and sn right by one bit
       fr = sr = the first hash of the proof; for each further hash c:
           if sn = 0: fail
           if fn is odd or fn = sn:  fr = SHA-256(0x01 ‖ c ‖ fr);  sr = SHA-256(0x01 ‖ c ‖ sr)
                                     then, if fn is even, shift fn and sn right until fn is odd or 0
           else:                     sr = SHA-256(0x01 ‖ sr ‖ c)
           shift fn and sn right by one bit
       at the end: fr = FR, sr = SR and sn = 0.
{worked}

   A party who kept an earlier pack of this case can check that nothing it showed was rewritten
   since: its checkpoint must be one of the "from" entries here (same tree_size and root_hash), or
   the same checkpoint:   dunbot evidence verify pack.zip --prior earlier-pack.zip
"""


def _pdfs() -> str:
    return """7. THE SIGNED PDFs
   Every notice in artifacts/ that is a PDF, and chronology.pdf, is signed PAdES by the company:
       pdfsig <file>
   must say "Signature is Valid." and "Total document signed" (an update appended after signing
   would say otherwise); its "Signer Certificate Common Name" is the subject of checkpoint/signer.pem
   (openssl x509 -in checkpoint/signer.pem -noout -subject). "Certificate issuer is unknown" only
   means pdfsig was not told to trust the signer (see section 1).
"""


def _delivery_proofs(artifacts: Mapping[str, Mapping[str, Any]]) -> str:
    kinds = {
        "smtp_reply.json": "the mail server's final reply to an e-mail",
        "callback": "a status callback",
        "tracking": "a posted letter's tracking record",
    }
    listed = [
        f"   {entry['file']}: {kinds[name]} (event {', '.join(str(s) for s in entry['named_by'])})"
        for entry in artifacts.values()
        for name in sorted(entry.get("names", ()))
        if name in kinds
    ]
    here = "\n".join(listed) if listed else "   (this pack holds none)"
    return f"""8. DELIVERY PROOFS
   Each contact's proof of what came back, named by the event that records it (and listed beside
   the contact in chronology.pdf):
   - an e-mail: artifacts "smtp_reply.json" of its message_sent event — the receiving server's
     final reply to the message (code and text, e.g. "250 2.0.0 Ok: queued as 4F2A1"), the server
     and the Message-ID. It proves the server said it accepted the message; its queue id lets the
     mail provider's own logs be searched. It does not prove the recipient read it.
   - an SMS or a call: the "callback_sha256" of each message_delivered event — the provider's
     status callback as received (form-encoded: MessageSid or CallSid, MessageStatus or
     CallStatus, ErrorCode), each accepted only with a valid X-Twilio-Signature. The provider's own
     records can be asked for that SID.
   - a letter: the "tracking_sha256" of the task_done event of the mailroom's task — the
     registered-mail number recorded when the letter was posted, who recorded it and when; the
     postal service can be asked for that number. The letter itself is the PDF of its
     notice_rendered event.
   The replies are recorded by dunbot as they came: they are as trustworthy as the log (section
   10); the provider's own records are the independent confirmation. In this pack:
{here}
"""


def _kinds() -> str:
    lines = [
        "9. EVENT KINDS AND THEIR FIELDS",
        "   Every event body has: seq (its place in the log, from 1, gapless), at (when it was",
        "   recorded, UTC), kind, actor (who: a user as user:NAME, or the part of dunbot), customer,",
        '   invoices, and "data", whose fields depend on the kind:',
    ]
    for kind, (meaning, fields) in EVENT_REFERENCE.items():
        lines.append(f"   {kind.value}: {meaning}")
        lines += textwrap.wrap(
            f"data: {fields}", width=100, initial_indent="      ", subsequent_indent="            "
        )
    return "\n".join(lines) + "\n"


def _limits(checkpoint: Checkpoint) -> str:
    return f"""10. WHAT THIS PACK CANNOT PROVE
   - That the log is complete. The proofs show that each event in the pack is in the signed log
     and that the log grew only by appending; they cannot show that something that happened was
     ever recorded, nor that no event of this case is missing from the pack (events of the case
     are chosen by the exporter; others are hashes only).
   - Anything after the newest checkpoint. This pack ends at checkpoint {checkpoint.id}, which covers
     events 1 to {checkpoint.tree_size}; events recorded after it are in no proof here, and the
     pack cannot say whether there are any.
   - Whose clock the times are. Every "at" and every statement "time" was written by the
     company's own server clock. Only an RFC 3161 timestamp is an independent clock, and only when
     you trust its authority (section 3).
   - That the signer is the company. The pack carries its own certificate; only a comparison with
     a fingerprint the company published, or a CA you trust (section 1), says whose key it is.
   - That a history was not rewritten before anyone outside kept a checkpoint. Someone holding the
     signing key could have signed a rewritten log; an earlier pack or checkpoint kept by another
     party (--prior), or the company's witness copies of its checkpoints, would show it.

11. WHAT IS NOT HERE
   Only this case's own events and the files they name are in the pack. Events of other customers
   appear only as hashes inside the proofs, which reveal nothing about them.
"""


def _fingerprint(certificate_pem: str, separator: str = "") -> str:
    body = "".join(line for line in certificate_pem.strip().splitlines() if not line.startswith("-----"))
    digest = hashlib.sha256(base64.b64decode(body)).hexdigest().upper()
    return separator.join(digest[i : i + 2] for i in range(0, len(digest), 2)) if separator else digest


def _step(left: bytes, right: bytes, result: bytes, indent: str = "   ") -> list[str]:
    return [
        f"{indent}printf '01%s%s' {left.hex()} \\",
        f"{indent}       {right.hex()} | xxd -r -p | sha256sum",
        f"{indent}   = {result.hex()}",
    ]


def _inclusion_example(checkpoint: Checkpoint, event: dict[str, Any]) -> str:
    seq = event["seq"]
    trace: list[tuple[bytes, bytes, bytes]] = []
    root_from_inclusion_proof(
        seq - 1,
        checkpoint.tree_size,
        bytes.fromhex(event["leaf_hash"]),
        [bytes.fromhex(p) for p in event["proof"]],
        trace,
    )
    lines = [
        f"   event {seq} (leaf index {seq - 1} of {checkpoint.tree_size}):",
        f"   (printf '\\000'; cat events/{seq:08d}.json) | sha256sum",
        f"      = {event['leaf_hash']}",
    ]
    for number, (left, right, result) in enumerate(trace, start=1):
        lines.append(f"   step {number}:")
        lines += _step(left, right, result)
    if not trace:
        lines.append("   (a one-event tree: the leaf hash is the root)")
    lines.append(f"   the last value is the root_hash of checkpoint/statement.txt: {checkpoint.root_hash}")
    return "\n".join(lines)


def _consistency_example(old: Checkpoint, checkpoint: Checkpoint, proof: list[bytes]) -> str:
    m, n = old.tree_size, checkpoint.tree_size
    trace: list[tuple[bytes, bytes | None, bytes]] = []
    verify_consistency(m, n, old.root, checkpoint.root, proof, trace)
    path = list(proof)
    power = m & (m - 1) == 0
    if power:
        path.insert(0, old.root)
    lines = [
        f"   Worked example, from this pack: checkpoints/{old.id}/ (m = {m}, FR = {old.root_hash})",
        f"   to checkpoint/ (n = {n}, SR = {checkpoint.root_hash}),",
        f"   proof ({len(proof)} hashes)" + ("; m is a power of two, so FR goes first:" if power else ":"),
    ]
    lines += [f"      {node.hex()}" for node in proof]
    fn, sn = m - 1, n - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    lines.append(f"   fn = {fn}, sn = {sn} after the shifts; fr = sr = {path[0].hex()}")
    fr = sr = path[0]
    for number, (c, new_fr, new_sr) in enumerate(trace, start=1):
        lines.append(f"   step {number}: c = {c.hex()}")
        if new_fr is not None:
            lines.append("     fr =")
            lines += _step(c, fr, new_fr, "     ")
            lines.append("     sr =")
            lines += _step(c, sr, new_sr, "     ")
            fr = new_fr
        else:
            lines.append("     sr = (fr stays)")
            lines += _step(sr, c, new_sr, "     ")
        sr = new_sr
    lines.append(f"   fr = {fr.hex()} = FR, the root of checkpoints/{old.id}/statement.txt")
    lines.append(f"   sr = {sr.hex()} = SR, the root of checkpoint/statement.txt")
    return "\n".join(lines)
