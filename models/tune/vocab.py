"""Words the training data is built from: rooms, device names per domain, list items, topics for open questions.

Many homes' worth, so the model learns to copy whatever name is said rather than to remember a few. Names are what
owners set up and what people call things (brands included); none of this is taken from an evaluation set.
"""

from __future__ import annotations

AREAS = (
    "kitchen", "living room", "lounge", "family room", "sitting room", "dining room", "bedroom", "master bedroom",
    "main bedroom", "guest room", "guest bedroom", "spare room", "kids room", "nursery", "bathroom", "en suite",
    "toilet", "downstairs toilet", "office", "home office", "study", "den", "hallway", "hall", "entrance",
    "entryway", "landing", "stairs", "staircase", "garage", "basement", "cellar", "attic", "loft", "porch", "patio",
    "garden", "back garden", "front garden", "backyard", "front yard", "laundry room", "utility room", "playroom",
    "games room", "gym", "library", "balcony", "terrace", "conservatory", "sunroom", "pantry", "closet",
    "walk in closet", "shed", "workshop", "upstairs bathroom", "upstairs hallway", "media room", "cinema room",
    "music room", "mudroom", "breakfast nook", "emma's room", "jack's room", "lily's room", "sam's bedroom",
    "second bedroom", "third bedroom", "boys room", "girls room", "driveway", "deck", "pool house", "tv room",
    "bedroom 1", "bedroom 2", "bedroom 3", "bedroom one", "bedroom two", "bedroom three", "bathroom 2", "office 2",
    "kids room 1", "guest room 2", "flat 2", "vegetable patch", "lawn", "flower beds",
)
"""Room names as homes name them."""

AREA_VARIANTS = {
    "bedroom": ("bed room",), "bathroom": ("bath room",), "hallway": ("hall way", "hall"), "living room": ("lounge",),
    "playroom": ("play room",), "backyard": ("back yard",), "sunroom": ("sun room",), "staircase": ("stairs",),
    "master bedroom": ("master bed room",), "dining room": ("dinning room",), "laundry room": ("laundry",),
    "kids room": ("kid's room", "children's room"), "office": ("office room",), "garage": ("garage area",),
}
"""Other ways the same room gets said or transcribed: the model copies the words, code matches them."""

FLOORS = ("upstairs", "downstairs", "ground floor", "first floor", "second floor", "top floor", "basement level",
          "main floor", "attic floor")

BRANDS = ("hue", "philips", "lifx", "wemo", "kasa", "tapo", "shelly", "sonoff", "meross", "govee", "nanoleaf",
          "ikea", "tradfri", "wiz", "sengled", "eve", "aqara", "tuya", "lutron", "leviton", "ring", "nest",
          "ecobee", "sonos", "bose", "roomba", "roborock", "ecovacs", "eufy", "dyson", "xiaomi", "yale", "august",
          "schlage", "somfy", "switchbot", "zigbee", "insteon", "fibaro", "hive", "netatmo")

LIGHT_NAMES = (
    "ceiling light", "floor lamp", "desk lamp", "bedside lamp", "reading lamp", "table lamp",
    "pendant light", "chandelier", "spotlights", "led strip", "light strip", "strip lights", "night light",
    "wall light", "wall lamp", "sconce", "lantern", "fairy lights", "string lights", "bulb", "main light",
    "big light", "uplighter", "downlights", "cabinet lights", "mirror light", "porch light", "garden lights",
    "ceiling lamp", "corner lamp", "arc lamp", "salt lamp", "lava lamp", "globe", "tv backlight", "bed light",
    "stair lights", "kitchen island lights", "path lights", "flood light", "security light", "hue go",
    "light bar", "neon sign", "star projector", "vanity light", "bathroom mirror", "hue bulb", "piano lamp",
)
SWITCH_NAMES = (
    "smart plug", "plug", "socket", "outlet", "power strip", "wemo", "wemo switch", "kasa plug", "tapo plug",
    "coffee maker", "coffee machine", "espresso machine", "kettle", "tv plug", "space heater", "electric blanket",
    "dehumidifier", "humidifier", "air purifier", "water fountain", "christmas tree", "christmas lights",
    "printer", "amplifier", "subwoofer", "fish tank", "aquarium", "towel rail", "monitor", "computer",
    "charger", "phone charger", "dishwasher", "washing machine", "dryer", "tumble dryer", "rice cooker",
    "slow cooker", "toaster", "oven", "hot tub", "pool pump", "sprinklers", "irrigation", "grow light",
    "heated floor", "boiler", "water heater", "immersion heater", "bread maker", "air fryer", "ice maker",
    "mosquito zapper", "diffuser", "radiator", "fridge plug", "game console", "router", "3d printer",
)
COFFEE_WORDS = ("coffee maker", "coffee machine", "espresso machine", "coffee pot", "coffee", "espresso",
                "nespresso", "percolator", "barista")
FAN_NAMES = ("fan", "ceiling fan", "desk fan", "tower fan", "floor fan", "extractor fan", "bathroom fan",
             "pedestal fan", "box fan", "attic fan", "standing fan", "dyson fan", "air circulator", "exhaust fan")
COVER_NAMES = ("blinds", "blind", "curtains", "curtain", "shutters", "garage door", "gate", "awning", "shades",
               "roller blind", "skylight", "window", "roller shutter", "drapes", "garage", "front gate",
               "driveway gate", "patio door", "sliding door", "velux window", "venetian blinds", "shade")
LOCK_NAMES = ("front door", "back door", "front door lock", "door lock", "deadbolt", "side door", "lock",
              "garage side door", "patio door lock", "gate lock", "smart lock", "yale lock", "back gate")
MEDIA_NAMES = ("speaker", "speakers", "tv", "television", "sonos", "echo", "radio", "stereo", "soundbar",
               "music", "chromecast", "smart speaker", "hifi", "record player", "media player", "apple tv",
               "fire stick", "roku", "home pod", "google home", "sound system", "boombox", "jukebox")
VACUUM_NAMES = ("roomba", "robot vacuum", "vacuum", "vacuum cleaner", "robot", "hoover", "roborock", "deebot",
                "robot cleaner", "cleaning robot", "robot hoover", "eufy", "dyson robot", "robovac", "mop robot",
                "robot mop", "neato", "vac")
CLIMATE_NAMES = ("thermostat", "heating", "heater", "air conditioning", "air conditioner", "ac", "nest",
                 "climate", "radiators", "heat pump", "central heating", "hvac", "ecobee", "underfloor heating")
TODO_NAMES = ("shopping list", "grocery list", "to do list", "todo list", "groceries", "costco list",
              "hardware list", "packing list", "chores list", "list", "shopping", "supermarket list",
              "wish list", "pharmacy list", "party list", "weekend list", "aldi list", "target list")
VALVE_NAMES = ("front yard valve", "garden valve", "sprinklers", "sprinkler", "irrigation", "irrigation valve",
               "main water valve", "water main", "water valve", "drip line", "garden tap", "hose", "lawn sprinklers",
               "zone 1", "zone 2", "back lawn zone", "gas valve", "water shutoff", "soaker hose", "rain barrel valve")
SHOP_LISTS = ("trader joes", "costco", "whole foods", "target", "walmart", "tesco", "sainsburys", "aldi", "lidl",
              "home depot", "waitrose", "safeway", "kroger", "asda", "the pharmacy", "the hardware store")
"""Lists people name after the shop ("put apples on trader joes")."""
TASK_LISTS = ("tasks", "to dos", "personal tasks", "work tasks", "chores", "homework list", "jobs list",
              "house jobs", "errands", "reminders list")
TASKS = ("history homework", "call the dentist", "book a haircut", "renew the passport", "pay the gas bill",
         "mow the lawn", "fix the shed door", "email the landlord", "water the plants", "return the library books",
         "clean the gutters", "buy a birthday present", "take the car for its service", "sort the recycling",
         "finish the report", "plan the holiday", "wash the car", "math worksheet", "science project")
"""Things put on a task list (a to-do list that is no shopping list)."""
SENSOR_NAMES = ("temperature sensor", "humidity sensor", "motion sensor", "door sensor", "window sensor",
                "smoke detector", "leak sensor", "outdoor temperature", "air quality")

NAMES_BY_DOMAIN: dict[str, tuple[str, ...]] = {
    "light": LIGHT_NAMES, "switch": SWITCH_NAMES, "fan": FAN_NAMES, "cover": COVER_NAMES, "lock": LOCK_NAMES,
    "media_player": MEDIA_NAMES, "vacuum": VACUUM_NAMES, "climate": CLIMATE_NAMES, "todo": TODO_NAMES,
    "sensor": SENSOR_NAMES, "valve": VALVE_NAMES,
}
LIGHT_WORDS = ("light", "lights", "lighting", "lamps", "lamp")
"""What "the lights" gets called."""
NAME_EXTRAS = ("socket", "plug", "one", "thing", "device", "please", "switch", "unit", "two", "1")
"""Words people add after a device's name ("the wemo plug socket"): the model keeps them, code ignores them."""

COLORS = ("red", "orange", "yellow", "green", "blue", "purple", "pink", "white", "warm white", "cold white")
OTHER_COLORS = ("teal", "turquoise", "cyan", "magenta", "violet", "lilac", "gold", "amber", "lime", "indigo",
                "crimson", "navy", "peach", "lavender")
"""Colours the assistant cannot set (not in Home Assistant's list the model uses): left out of light commands."""

ITEMS = (
    "milk", "eggs", "bread", "butter", "cereal", "cheese", "coffee", "tea", "bananas", "apples", "oranges",
    "toilet paper", "dish soap", "washing up liquid", "laundry detergent", "paper towels", "rice", "pasta",
    "tomatoes", "onions", "garlic", "potatoes", "carrots", "chicken", "beef mince", "salmon", "yogurt",
    "orange juice", "sugar", "flour", "salt", "pepper", "olive oil", "ketchup", "mayonnaise", "mustard",
    "peanut butter", "jam", "honey", "oats", "granola", "crackers", "chips", "cookies", "chocolate",
    "ice cream", "frozen peas", "spinach", "lettuce", "cucumber", "avocados", "lemons", "limes", "grapes",
    "strawberries", "blueberries", "water", "sparkling water", "beer", "wine", "coke", "batteries",
    "light bulbs", "bin bags", "trash bags", "shampoo", "conditioner", "toothpaste", "deodorant", "soap",
    "tissues", "nappies", "diapers", "baby wipes", "dog food", "cat food", "cat litter", "birthday candles",
    "wrapping paper", "sponges", "aluminium foil", "cling film", "almond milk", "oat milk", "bagels",
    "tortillas", "cream cheese", "sour cream", "hummus", "broccoli", "mushrooms", "bacon", "sausages",
    "a new mop", "printer ink", "stamps", "a birthday card", "ginger", "cinnamon", "vanilla", "yeast",
)

TOPICS = (
    "volcano", "black hole", "rainbow", "fjord", "glacier", "desert", "platypus", "sloth", "octopus", "quasar",
    "photosynthesis", "democracy", "inflation", "the internet", "blockchain", "gravity", "a comet", "the sun",
    "mars", "jupiter", "the milky way", "a tsunami", "an earthquake", "a hurricane", "the ocean", "the amazon",
    "mount everest", "the pyramids", "the roman empire", "the eiffel tower", "a kangaroo", "a koala", "a whale",
    "a shark", "dinosaurs", "bees", "an atom", "electricity", "a neutron star", "the moon landing", "the big bang",
    "jazz", "opera", "chess", "cricket", "baseball", "sushi", "a croissant", "cheddar cheese", "quinoa", "kimchi",
    "a haiku", "a sonnet", "shakespeare", "the renaissance", "a penguin", "an axolotl", "a narwhal", "a meerkat",
    "the great wall of china", "antarctica", "the sahara", "iceland", "a geyser", "a hedgehog", "vitamin c",
    "the immune system", "dna", "a virus", "climate change", "recycling", "solar power", "a wind turbine",
    "a submarine", "a helicopter", "the titanic", "the olympics", "the world cup", "yoga", "meditation",
    "a marathon", "the stock market", "a mortgage", "a credit score", "the theory of relativity", "a rainforest",
    "the northern lights", "an eclipse", "a lighthouse", "a castle", "the colosseum", "venice", "tokyo",
)
PLACES = ("japan", "france", "brazil", "canada", "australia", "egypt", "india", "mexico", "norway", "kenya",
          "peru", "italy", "spain", "china", "germany", "argentina", "iceland", "new zealand", "chile", "russia",
          "london", "paris", "new york", "tokyo", "sydney", "cairo", "rome", "berlin", "toronto", "mumbai",
          "the pacific ocean", "lake superior", "the nile", "the amazon river", "mount kilimanjaro", "texas",
          "alaska", "greenland", "madagascar", "the moon", "mars", "the sun", "the earth")
PEOPLE = ("albert einstein", "marie curie", "isaac newton", "william shakespeare", "mozart", "beethoven",
          "elvis presley", "the beatles", "michael jackson", "madonna", "taylor swift", "beyonce", "adele",
          "leonardo da vinci", "picasso", "van gogh", "abraham lincoln", "george washington", "napoleon",
          "cleopatra", "julius caesar", "queen elizabeth", "nelson mandela", "martin luther king", "gandhi",
          "charles darwin", "nikola tesla", "thomas edison", "steve jobs", "bill gates", "elon musk",
          "serena williams", "michael jordan", "pele", "lionel messi", "usain bolt", "tom hanks",
          "meryl streep", "oprah winfrey", "barack obama", "winston churchill", "frida kahlo", "jane austen",
          "charles dickens", "mark twain", "agatha christie", "j k rowling", "stephen hawking", "ada lovelace",
          "neil armstrong", "amelia earhart", "bob dylan", "freddie mercury", "johnny cash", "whitney houston",
          "keanu reeves", "morgan freeman", "lady gaga", "ed sheeran", "marilyn monroe", "charlie chaplin")
WORDS_TO_DEFINE = ("serendipity", "ubiquitous", "ephemeral", "melancholy", "resilience", "paradox", "irony",
                   "nostalgia", "empathy", "integrity", "ambiguous", "pragmatic", "eloquent", "benevolent",
                   "cynical", "diligent", "frugal", "gregarious", "hubris", "juxtaposition", "karma", "lethargic",
                   "meticulous", "nuance", "obsolete", "pedantic", "quixotic", "redundant", "sarcasm", "tenacious",
                   "utopia", "verbose", "whimsical", "zealous", "onomatopoeia", "procrastinate", "euphemism",
                   "altruism", "candor", "dogma", "fiasco", "gaffe", "hypothesis", "jargon", "kudos", "limbo",
                   "mundane", "nemesis", "oxymoron", "placebo", "quorum", "rhetoric", "stoic", "taboo",
                   "vindicate", "wanderlust", "yolo", "zenith", "fomo", "hygge", "schadenfreude", "cliche")
JOKE_KINDS = ("", "funny", "good", "short", "silly", "dad", "knock knock", "clean", "animal", "science",
              "math", "programming", "cat", "dog", "bad", "new", "another", "geeky", "christmas", "pirate", "nerdy",
              "corny", "cheesy", "kids", "office")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
CHIT_CHAT_STATEMENTS = (
    "i had a long day at work", "my sister is coming over tomorrow", "the weather is lovely today",
    "i think i'll have pasta tonight", "the kids are finally asleep", "i just got back from the gym",
    "that movie was amazing", "i'm going to the shops later", "my phone battery is almost dead",
    "the cat knocked over a plant", "i can't find my keys anywhere", "we're having friends over on saturday",
    "the garden looks great this year", "i finished my book", "the traffic was terrible",
    "dinner is almost ready", "i love this song", "mum called earlier", "the dog needs a walk",
    "i'm so tired", "this coffee is really good", "the neighbours are noisy again", "it's my birthday next week",
    "the football is on tonight", "i fixed the bike", "work was busy", "i forgot my umbrella",
    "the kitchen looks so clean", "i need a holiday", "we should paint the hallway", "the new sofa arrives friday",
    "my back hurts", "i'm learning to play the guitar", "the bread smells amazing", "i'm back",
    "good job everyone", "that was close", "what a day", "oh no i spilled the milk", "never again",
    "the lamp in the hall looks nice", "i bought a new desk lamp", "the lights in here are pretty",
    "the kitchen light bulb is from ikea", "i like the blue light", "the vacuum is in the cupboard",
    "the speaker sounds great", "i moved the fan to the bedroom", "the coffee machine was a gift",
    "my brother turned the lights off earlier", "somebody left the tv on last night",
)
"""Things people say near the assistant that ask for nothing: the honest outcome is to do nothing."""
