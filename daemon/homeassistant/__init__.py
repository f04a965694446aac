"""Home Assistant, both ways.

- discovery.py: MQTT discovery, so the satellite shows up in Home Assistant by itself (works without the link).
- blueprint.py: the automation blueprint that carries out intents published on MQTT (generated, never hand-edited).
- services.py: which Home Assistant service each intent calls, shared by the link's executor and the blueprint.
- link.py: the WebSocket API client (auth, commands, subscriptions, reconnect with back-off).
- home.py: Home Assistant's registries -> the assistant's Home (floors, areas, entities exposed to Assist).
- entity_states.py: the live state cache (get_states + state_changed).
- executor.py: intents -> service calls, replies only after Home Assistant answered; state questions from the cache.
"""
