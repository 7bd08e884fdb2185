"""README.txt of an evidence pack: how to check every piece by hand, with a worked example."""

from __future__ import annotations

from typing import Any

from bot.evidence.checkpoint import Checkpoint
from bot.evidence.merkle import root_from_inclusion_proof


def readme_text(case: str, checkpoint: Checkpoint, events: list[dict[str, Any]], origin: str) -> str:
    """The README of a pack about ``case``."""
    example = _worked_example(checkpoint, events[0]) if events else "   (this pack has no events)"
    timestamp = (
        "   openssl ts -verify -data checkpoint/statement.txt -in checkpoint/timestamp.tst -token_in \\\n"
        "       -CAfile <the timestamp authority's CA certificate>\n"
        "   The token is an RFC 3161 timestamp over SHA-256(statement.txt) by an independent authority.\n"
        if checkpoint.timestamp is not None
        else "   (This checkpoint has no RFC 3161 timestamp: no [signing] tsa_url was configured.)\n"
    )
    return f"""EVIDENCE PACK — {case}
Creditor: {origin}
Checkpoint {checkpoint.id}: the evidence log's first {checkpoint.tree_size} events,
Merkle root {checkpoint.root_hash}.

This pack proves, without access to dunbot or its database, what was sent to whom and when, with
which content, and what came back. Everything can be checked with dunbot in one command:

   dunbot evidence verify pack.zip          (add --trust company-ca.pem to require the signer's CA)

or by hand, with openssl, sha256sum, xxd and poppler's pdfsig, as follows (unzip it first:
`unzip pack.zip -d pack && cd pack`).

1. THE MANIFEST IS THE COMPANY'S
   manifest.json lists every other file of the pack with its SHA-256 and is signed by the company
   (detached CMS in manifest.p7s):

   openssl cms -verify -binary -inform DER -in manifest.p7s -content manifest.json \\
       -CAfile checkpoint/signer.pem -purpose any -out /dev/null

   ("Verification successful"). checkpoint/signer.pem is the signer's certificate as the pack carries
   it; to decide whether to trust it, compare it with the company's published certificate or use the
   issuing CA as -CAfile. Then every file must have the SHA-256 the manifest gives under "files":

   sha256sum events/* artifacts/* checkpoint/* chronology.pdf README.txt

   Artifacts are named by their own SHA-256, so for them the name is the check.

2. THE CHECKPOINT IS SIGNED (AND TIMESTAMPED)
   cat checkpoint/statement.txt             (tree_size and root_hash are what the proofs lead to)
   openssl cms -verify -binary -inform DER -in checkpoint/signature.p7s \\
       -content checkpoint/statement.txt -CAfile checkpoint/signer.pem -purpose any -out /dev/null
{timestamp}
3. EVERY EVENT IS IN THE SIGNED LOG
   events/<seq>.json is the event exactly as it was hashed (canonical JSON: sorted keys, UTF-8, no
   whitespace). For each event listed in manifest.json:

   content hash:  sha256sum events/<seq>.json                              = "content_hash"
   leaf hash:     (printf '\\000'; cat events/<seq>.json) | sha256sum       = "leaf_hash"

   The leaf hash, combined with the hashes of "inclusion_proof" in turn (RFC 9162 §2.1.3.2: leaf
   index = seq − 1, tree size = the checkpoint's), must give the checkpoint's root_hash. Each step
   hashes 0x01 ‖ left ‖ right:   printf '01%s%s' LEFT RIGHT | xxd -r -p | sha256sum
   Worked example:
{example}

4. THE SIGNED PDFs
   Every notice in artifacts/ that is a PDF, and chronology.pdf (every contact in order), is signed
   PAdES by the company:   pdfsig <file>   must say "Signature is Valid." and "Total document signed"
   (an update appended after signing would say otherwise).

5. THE LOG ONLY GROWS
   Under "consistency", each entry proves that this checkpoint's log extends an earlier checkpoint
   (in checkpoints/<id>/, signed like the one above): RFC 9162 §2.1.4.2 with the earlier and this
   tree size and root. A party who kept an earlier pack can check that nothing it showed was
   rewritten since:   dunbot evidence verify pack.zip --prior earlier-pack.zip

6. WHAT IS NOT HERE
   Only this case's own events and the files they name are in the pack. Events of other customers
   appear only as hashes inside the proofs, which reveal nothing about them.
"""


def _worked_example(checkpoint: Checkpoint, event: dict[str, Any]) -> str:
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
        f"   event {seq}: (printf '\\000'; cat events/{seq:08d}.json) | sha256sum",
        f"      = {event['leaf_hash']}",
    ]
    for step, (left, right, result) in enumerate(trace, start=1):
        lines.append(f"   step {step}: printf '01%s%s' {left.hex()} \\")
        lines.append(f"              {right.hex()} | xxd -r -p | sha256sum")
        lines.append(f"      = {result.hex()}")
    if not trace:
        lines.append("   (a one-event tree: the leaf hash is the root)")
    lines.append(f"   the last value is the root_hash of checkpoint/statement.txt: {checkpoint.root_hash}")
    return "\n".join(lines)
