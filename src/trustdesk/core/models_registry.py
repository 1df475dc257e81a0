"""Imports every domain's models so the metadata is complete (migrations, create_all, checks)."""

from trustdesk.appeals import models as _appeals  # noqa: F401
from trustdesk.assist import models as _assist  # noqa: F401
from trustdesk.cases import models as _cases  # noqa: F401
from trustdesk.core import events as _events  # noqa: F401
from trustdesk.core import idempotency as _idempotency  # noqa: F401
from trustdesk.core import identity as _identity  # noqa: F401
from trustdesk.core import notifications as _notifications  # noqa: F401
from trustdesk.core import outbox as _outbox  # noqa: F401
from trustdesk.core import webhooks as _webhooks  # noqa: F401
from trustdesk.core.db import Base
from trustdesk.directory import models as _directory  # noqa: F401
from trustdesk.feedback import models as _feedback  # noqa: F401
from trustdesk.insights import models as _insights  # noqa: F401
from trustdesk.knowledge import models as _knowledge  # noqa: F401
from trustdesk.oncall import models as _oncall  # noqa: F401
from trustdesk.routing import models as _routing  # noqa: F401
from trustdesk.sla import models as _sla  # noqa: F401

metadata = Base.metadata
