"""The /project-types resource."""
