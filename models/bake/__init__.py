"""Baked rendering for the interactive orbit view: bake a face's field once onto a grid
(`volume`), render any view from it fast (`march`), refine progressively (`progressive`), and
steer the camera (`camera`)."""
