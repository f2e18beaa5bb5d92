"""A provider told us a person opted out (or back in): record it where every send path looks.

Twilio's error 21610 (the recipient texted STOP), an inbound STOP reply, a WeChat
``unsubscribe`` event: each is a decision of the person, so it becomes their consent on
that channel, keyed by the address (``phone``, ``wechat_openid``), which the send path's
consent check reads for the address as well as for the profile. Keying by address also
holds before the person is stitched into a profile.

The adapter reaches the operational store through ``AdapterContext.extra["opstore"]``
(the dispatcher passes it); without one it reports that nothing was recorded, and the
adapter suppresses the address instead, so the person is not contacted either way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from omnichannel.opstore.consent import set_consent
from omnichannel.opstore.models import ConsentStatus

if TYPE_CHECKING:
    from omnichannel.channels.adapter import AdapterContext
    from omnichannel.opstore import OpStore

ACTOR = "channels"


def store_of(context: AdapterContext) -> OpStore | None:
    store: OpStore | None = context.extra.get("opstore")
    return store


def record_decision(
    store: OpStore,
    *,
    channel: str,
    id_type: str,
    address: str,
    status: ConsentStatus,
    source: str,
) -> None:
    """Set the consent of ``id_type:address`` on ``channel`` (audited)."""
    with store.session() as session:
        set_consent(
            session,
            subject_type=id_type,
            subject_value=address,
            channel=channel,
            status=status,
            source=source,
            actor=ACTOR,
        )


def opt_out(context: AdapterContext, channel: str, id_type: str, address: str, source: str) -> bool:
    """Record ``unsubscribed``; False when the adapter has no operational store to write to."""
    store = store_of(context)
    if store is None:
        return False
    record_decision(
        store,
        channel=channel,
        id_type=id_type,
        address=address,
        status=ConsentStatus.UNSUBSCRIBED,
        source=source,
    )
    return True
