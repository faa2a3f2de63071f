"""Export: a trained model as the LiteRT artefact that serving loads (`litert`, with the
graphs of `litert_graphs`), its model card's provenance (`provenance`)."""
