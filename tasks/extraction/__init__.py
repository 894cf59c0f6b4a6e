"""Article extraction (trafilatura) with feed fallbacks, bounded in worker processes."""
