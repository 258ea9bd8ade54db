"""HTTP for both modes: serving an app with uvicorn, and the read API's routes (`/api/v1/...`)."""
