"""One APIRouter per domain."""
