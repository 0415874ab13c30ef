# PatchPlan: one image for web (gunicorn), Celery worker and Celery beat.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DJANGO_SETTINGS_MODULE=patchplan.settings.production \
    PATCHPLAN_VAR_DIR=/app/var \
    STATIC_ROOT=/app/staticfiles

WORKDIR /app
# Dependencies first (the project declares no modules of its own, so this
# installs exactly the pinned dependencies), then the code: a code change
# does not reinstall them.
COPY pyproject.toml constraints.txt README.md ./
RUN pip install --no-cache-dir -c constraints.txt .
COPY . .
# collectstatic imports the settings, which need a key; it is not used at run time.
RUN SECRET_KEY=build-only-not-a-secret python manage.py collectstatic --noinput \
    && useradd --system --uid 1000 patchplan && mkdir -p /app/var && chown -R patchplan /app/var
USER patchplan
EXPOSE 8000
CMD ["gunicorn", "patchplan.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
