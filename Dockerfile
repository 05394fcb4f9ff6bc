# One image for every cld process: migrate, worker, beat, inbox watcher.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 CLD_DATA_DIR=/var/lib/cld
RUN useradd --system --create-home --home-dir /var/lib/cld cld
WORKDIR /app
COPY pyproject.toml README.md alembic.ini ./
COPY workflow ./workflow
COPY tasks ./tasks
COPY bench ./bench
COPY migrations ./migrations
COPY email_templates ./email_templates
COPY examples ./examples
RUN pip install --no-cache-dir -e . flower
USER cld
CMD ["cld", "--help"]
