"""Writes to the golden record, by sub-domain: ingest (parse, upsert, bulk create), identity
(matching, probabilistic resolution, merge, review decisions), erasure (erase, rectify), keys
(shred, rotation) and sharing. Every write is transactional and audited with field names, never
values, and stays within the actor's regions (`actor.regions`).

The public names are re-exported here, so `from profiles import services` and
`from profiles.services import X` work for every caller."""

from core.regions import KNOWN_REGIONS
from profiles.services.erasure import (
    corrections_check,
    subject_erase,
    subject_rectify,
    subjects_erase,
)
from profiles.services.guards import RegionNotAllowed, region_check
from profiles.services.identity import (
    match_review_decide,
    match_reviews_rescore,
    subject_split,
    subjects_merge,
)
from profiles.services.ingest import (
    SUPPRESSED_MESSAGE,
    IdentitySuppressed,
    ParsedRecord,
    UpsertResult,
    event_dedup_key,
    parse_record,
    subject_create,
    subject_upsert,
    subject_upsert_parsed,
)
from profiles.services.ingest_batch import (
    ChunkPlan,
    ChunkRaced,
    subjects_upsert_batch,
    suppressed_among,
    upsert_partition,
)
from profiles.services.ingest_chunk import records_ingest
from profiles.services.ingest_match import (
    ChunkMatches,
    chunk_matches_plan,
    chunk_matches_write,
    subjects_merge_batch,
)
from profiles.services.keys import (
    keys_create_for,
    keys_depending_on,
    keys_shred,
    rotate_keys_batch,
    subject_shred,
)
from profiles.services.matching import (
    ModelNotEstimable,
    match_candidates,
    match_candidates_batch,
    match_model_current,
    match_model_estimate,
    match_profile_refresh,
    match_profile_rows,
    match_profiles_reencode,
)
from profiles.services.sharing import subject_share

__all__ = [
    "KNOWN_REGIONS",
    "SUPPRESSED_MESSAGE",
    "ChunkMatches",
    "ChunkPlan",
    "ChunkRaced",
    "IdentitySuppressed",
    "ModelNotEstimable",
    "ParsedRecord",
    "RegionNotAllowed",
    "UpsertResult",
    "chunk_matches_plan",
    "chunk_matches_write",
    "corrections_check",
    "event_dedup_key",
    "keys_create_for",
    "keys_depending_on",
    "keys_shred",
    "match_candidates",
    "match_candidates_batch",
    "match_model_current",
    "match_model_estimate",
    "match_profile_refresh",
    "match_profile_rows",
    "match_profiles_reencode",
    "match_review_decide",
    "match_reviews_rescore",
    "parse_record",
    "records_ingest",
    "region_check",
    "rotate_keys_batch",
    "subject_create",
    "subject_erase",
    "subject_rectify",
    "subject_share",
    "subject_shred",
    "subject_split",
    "subject_upsert",
    "subject_upsert_parsed",
    "subjects_erase",
    "subjects_merge",
    "subjects_merge_batch",
    "subjects_upsert_batch",
    "suppressed_among",
    "upsert_partition",
]
