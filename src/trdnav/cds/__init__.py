"""The CDS Hooks 2.0 service: trdnav's assessment as cards inside the EHR.

* :mod:`~trdnav.cds.discovery`: the services and their prefetch templates;
* :mod:`~trdnav.cds.models`: requests, cards and feedback (JSON shapes of the spec);
* :mod:`~trdnav.cds.auth`: CDS client JWTs (asymmetric only, audience, issuer allow-list,
  keys from the client's JWKS, ``jti`` replay protection);
* :mod:`~trdnav.cds.prefetch`: the FHIR data of a call, from prefetch or the ``fhirServer``;
* :mod:`~trdnav.cds.cards`: the assessment (and drafted orders) as cards;
* :mod:`~trdnav.cds.feedback`: feedback on cards, stored and reported;
* :mod:`~trdnav.cds.service`: one call, from request to cards.
"""
