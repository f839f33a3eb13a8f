"""Word lists for synthetic directories: names, companies, titles, places and event vocabulary.

Only ``seeding.py`` reads these. Every list is a tuple, so its order (and so a seeded run) never changes.
"""

from __future__ import annotations


def _words(text: str) -> tuple[str, ...]:
    # Comma-separated lists keep this file short (the formatter would put each item of a literal on a line).
    return tuple(w.strip() for w in text.split(",") if w.strip())


FIRST_NAMES = _words(
    """
    James, Mary, Robert, Patricia, John, Jennifer, Michael, Linda, David, Elizabeth, William, Barbara,
    Richard, Susan, Joseph, Jessica, Thomas, Sarah, Charles, Karen, Christopher, Lisa, Daniel, Nancy,
    Matthew, Betty, Anthony, Sandra, Mark, Margaret, Donald, Ashley, Steven, Kimberly, Andrew, Emily, Paul,
    Donna, Joshua, Michelle, Kenneth, Carol, Kevin, Amanda, Brian, Melissa, George, Deborah, Timothy,
    Stephanie, Ronald, Rebecca, Jason, Sharon, Edward, Laura, Jeffrey, Cynthia, Ryan, Dorothy, Jacob, Amy,
    Gary, Kathleen, Nicholas, Angela, Eric, Shirley, Jonathan, Emma, Stephen, Brenda, Larry, Pamela, Justin,
    Nicole, Scott, Anna, Brandon, Samantha, Benjamin, Katherine, Samuel, Christine, Gregory, Debra,
    Alexander, Rachel, Patrick, Carolyn, Frank, Janet, Raymond, Maria, Jack, Olivia, Dennis, Heather, Jerry,
    Helen, Tyler, Catherine, Aaron, Diane, Jose, Julie, Adam, Victoria, Nathan, Joyce, Henry, Lauren,
    Zachary, Kelly, Douglas, Christina, Peter, Ruth, Kyle, Joan, Noah, Virginia, Ethan, Judith, Jeremy,
    Evelyn, Christian, Hannah, Walter, Andrea, Keith, Megan, Austin, Cheryl, Roger, Jacqueline, Terry,
    Madison, Sean, Teresa, Gerald, Abigail, Carl, Sophia, Dylan, Martha, Harold, Sara, Jordan, Gloria,
    Jesse, Janice, Bryan, Kathryn, Lawrence, Ann, Arthur, Isabella, Gabriel, Judy, Bruce, Charlotte, Logan,
    Julia, Billy, Grace, Joe, Amber, Alan, Alice, Juan, Jean, Elijah, Denise, Willie, Frances, Albert,
    Danielle, Wayne, Marilyn, Randy, Natalie, Mason, Beverly, Vincent, Diana, Liam, Brittany, Roy, Theresa,
    Bobby, Kayla, Caleb, Alexis, Bradley, Doris, Russell, Lori, Lucas, Tiffany, Lukas, Lena, Jonas, Mia,
    Felix, Leonie, Maximilian, Sophie, Paulo, Lucia, Mateo, Valentina, Santiago, Camila, Hugo, Chloe, Louis,
    Manon, Arjun, Priya, Rohan, Ananya, Vikram, Aisha, Omar, Fatima, Yusuf, Leila, Wei, Mei, Jun, Yuki,
    Haruto, Sakura, Min-jun, Ji-woo, Lars, Ingrid, Sven, Astrid, Mikael, Freya, Pieter, Anouk, Daan, Sanne,
    Marco, Giulia, Luca, Chiara, Mateus, Beatriz, Diego, Carmen, Tomasz, Katarzyna, Nikolai, Olga, Andrei,
    Elena, Kwame, Amara, Tariq, Noor, Rafael, Ines, Oliver, Amelia
    """
)

LAST_NAMES = _words(
    """
    Smith, Johnson, Williams, Brown, Jones, Garcia, Miller, Davis, Rodriguez, Martinez, Hernandez, Lopez,
    Gonzalez, Wilson, Anderson, Thomas, Taylor, Moore, Jackson, Martin, Lee, Perez, Thompson, White, Harris,
    Sanchez, Clark, Ramirez, Lewis, Robinson, Walker, Young, Allen, King, Wright, Scott, Torres, Nguyen,
    Hill, Flores, Green, Adams, Nelson, Baker, Hall, Rivera, Campbell, Mitchell, Carter, Roberts, Gomez,
    Phillips, Evans, Turner, Diaz, Parker, Cruz, Edwards, Collins, Reyes, Stewart, Morris, Morales, Murphy,
    Cook, Rogers, Gutierrez, Ortiz, Morgan, Cooper, Peterson, Bailey, Reed, Kelly, Howard, Ramos, Kim, Cox,
    Ward, Richardson, Watson, Brooks, Chavez, Wood, James, Bennett, Gray, Mendoza, Ruiz, Hughes, Price,
    Alvarez, Castillo, Sanders, Patel, Myers, Long, Ross, Foster, Jimenez, Powell, Jenkins, Perry, Russell,
    Sullivan, Bell, Coleman, Butler, Henderson, Barnes, Gonzales, Fisher, Vasquez, Simmons, Romero, Jordan,
    Patterson, Alexander, Hamilton, Graham, Reynolds, Griffin, Wallace, Moreno, West, Cole, Hayes, Bryant,
    Herrera, Gibson, Ellis, Tran, Medina, Aguilar, Stevens, Murray, Ford, Castro, Marshall, Owens, Harrison,
    Fernandez, McDonald, Woods, Washington, Kennedy, Wells, Vargas, Henry, Chen, Freeman, Webb, Tucker,
    Guzman, Burns, Crawford, Olson, Simpson, Porter, Hunter, Gordon, Mendez, Silva, Shaw, Snyder, Mason,
    Dixon, Munoz, Hunt, Hicks, Holmes, Palmer, Wagner, Black, Robertson, Boyd, Rose, Stone, Salazar, Fox,
    Warren, Mills, Meyer, Rice, Schmidt, Garza, Daniels, Ferguson, Nichols, Stephens, Soto, Weaver, Ryan,
    Gardner, Payne, Grant, Dunn, Kelley, Spencer, Hawkins, Arnold, Pierce, Vazquez, Hansen, Peters, Santos,
    Hart, Bradley, Knight, Elliott, Cunningham, Duncan, Armstrong, Hudson, Carroll, Lane, Riley, Andrews,
    Alvarado, Ray, Delgado, Berry, Perkins, Hoffman, Johnston, Matthews, Pena, Richards, Contreras, Willis,
    Carpenter, Lawrence, Sandoval, Guerrero, George, Chapman, Rios, Estrada, Ortega, Watkins, Greene, Nunez,
    Wheeler, Valdez, Harper, Burke, Larson, Santiago, Maldonado, Morrison, Franklin, Carlson, Austin,
    Dominguez, Carr, Lawson, Jacobs, OBrien, Lynch, Singh, Vega, Bishop, Montgomery, Oliver, Jensen, Harvey,
    Williamson, Gilbert, Dean, Sims, Espinoza, Howell, Li, Wong, Reid, Hanson, Le, McCoy, Garrett, Burton,
    Fuller, Wang, Weber, Welch, Rojas, Lucas, Marquez, Fields, Park, Yang, Little, Banks, Padilla, Day,
    Walsh, Bowman, Schultz, Luna, Fowler, Mejia, Davidson, Acosta, Brewer, May, Holland, Juarez, Newman,
    Pearson, Curtis, Cortez, Douglas, Schneider, Joseph, Barrett, Navarro, Figueroa, Keller, Avila, Wade,
    Molina, Stanley, Hopkins, Campos, Barnett, Bates, Chambers, Caldwell, Beck, Lambert, Miranda, Byrd,
    Craig, Ayala, Lowe, Frazier, Powers, Neal, Leonard, Gregory, Carrillo, Sutton, Fleming, Rhodes, Shelton,
    Schwartz, Norris, Jennings, Watts, Duran, Walters, Cohen, McDaniel, Moran, Parks, Steele, Vaughn,
    Becker, Holt, DeLeon, Barker, Terry, Hale, Leon, Hail, Benson, Haynes, Horton, Miles, Lyons, Pham,
    Graves, Bush, Thornton, Wolfe, Warner, Cabrera, McKinney, Mann, Zimmerman, Dawson, Lara, Fletcher, Page,
    McCarthy, Love, Robles, Cervantes, Solis, Erickson, Reeves, Chang, Klein, Salinas, Fuentes, Baldwin,
    Daniel, Simon, Velasquez, Hardy, Higgins, Aguirre, Lin, Cummings, Chandler, Sharp, Barber, Bowen, Ochoa,
    Dennis, Robbins, Liu, Ramsey, Francis, Griffith, Paul, Blair, OConnor, Cardenas, Pacheco, Cross,
    Calderon, Quinn, Moss, Swanson, Chan, Rivas, Khan, Rodgers, Serrano, Fitzgerald, Rosales, Stevenson,
    Christensen, Manning, Gill, Curry, McLaughlin, Harmon, McGee, Gross, Doyle, Garner, Newton, Burgess,
    Reese, Walton, Blake, Trujillo, Adkins, Brady, Goodman, Roman, Webster, Goodwin, Fischer, Huang, Potter,
    Delacruz, Montoya, Todd, Wu, Hines, Mullins, Castaneda, Malone, Cannon, Tate, Mack, Sherman, Hubbard,
    Hodges, Zhang, Guerra, Wolf, Valencia, Saunders, Franco, Rowe, Gallagher, Farmer, Hammond, Hampton,
    Townsend, Ingram, Wise, Gallegos, Clarke, Barton, Schroeder, Maxwell, Waters, Logan, Camacho,
    Strickland, Norman, Person, Colon, Parsons, Frank, Harrington, Glover, Osborne, Buchanan, Casey, Floyd,
    Patton, Ibarra, Ball, Tyler, Suarez, Bowers, Orozco, Salas, Cobb, Gibbs, Andrade, Bauer, Conner, Moody,
    Escobar, McGuire, Lloyd, Mueller, Hartman, French, Kramer, McBride, Pope, Lindsey, Velazquez, Norton,
    Mccormick, Sparks, Flynn, Yates, Hogan, Marsh, Macias, Villanueva, Zamora, Pratt, Stokes, Owen, Ballard,
    Lang, Brock, Villarreal, Charles, Drake, Barrera, Cain, Patrick, Pineda, Burnett, Mercado, Santana,
    Shepherd, Bautista, Ali, Shaffer, Lamb, Trevino, McKenzie, Hess, Beil, Olsen, Cochran, Morton, Nash,
    Wilkins, Petersen, Briggs, Shah, Roth, Nicholson, Holloway, Lozano, Rangel, Flowers, Hoover, Short,
    Arias, Mora, Valenzuela, Bryan, Meyers, Weiss, Underwood, Bass, Greer, Summers, Houston, Carson, Morrow,
    Clayton, Whitaker, Decker, Yoder, Collier, Zuniga, Carey, Wilcox, Melendez, Poole, Roberson, Larsen,
    Conley, Davenport, Copeland, Massey, Lam, Huff, Rocha, Cameron, Jefferson, Hood, Monroe, Anthony,
    Pittman, Huynh, Randall, Singleton, Kirk, Combs, Mathis, Christian, Skinner, Bradford, Richard, Galvan,
    Wall, Boone, Kirby, Wilkinson, Bridges, Bruce, Atkinson, Velez, Meza, Roy, Vincent, York, Hodge, Villa,
    Abbott, Allison, Tapia, Gates, Chase, Sosa, Sweeney, Farrell, Wyatt, Dalton, Horn, Barron, Phelps, Yu,
    Dickerson, Heath, Foley, Atkins, Mathews, Bonilla, Acevedo, Benitez, Zavala, Hensley, Glenn, Cisneros,
    Harrell, Shields, Rubio, Huffman, Choi, Boyer, Garrison, Arroyo, Bond, Kane, Hancock, Callahan, Dillon,
    Cline, Wiggins, Grimes, Arellano, Melton, ONeill, Savage, Ho, Beltran, Pitts, Parrish, Ponce, Rich,
    Booth, Koch, Golden, Ware, Brennan, McDowell, Marks, Cantu, Humphrey, Baxter, Sawyer, Clay, Tanner,
    Hutchinson, Kaur, Berg, Wiley, Gilmore, Russo, Villegas, Hobbs, Keith, Wilkerson, Ahmed, Beard, McClain,
    Montes, Mata, Rosario, Vang, Walter, Henson, ONeal, Mosley, McClure, Beasley, Stephenson, Snow, Huerta,
    Preston, Vance, Barry, Johns, Eaton, Blackwell, Dyer, Prince, Macdonald, Solomon, Guevara, Stafford,
    English, Hurst, Woodard, Cortes, Shannon, Kemp, Nolan, McCullough, Merritt, Murillo, Moon, Salgado,
    Strong, Kline, Cordova, Barajas, Roach, Rosas, Winters, Jacobson, Lester, Knox, Bullock, Kerr, Leach,
    Meadows, Davila, Orr, Whitehead, Pruitt, Kent, Conway, McKee, Barr, David, Dejesus, Marin, Berger,
    McIntyre, Blankenship, Gaines, Palacios, Cuevas, Bartlett, Durham, Dorsey, McCall, ODonnell, Stein,
    Browning, Stout, Lowery, Sloan, McLean, Hendricks, Calhoun, Sexton, Chung, Gentry, Hull, Duarte,
    Ellison, Nielsen, Gillespie, Buck, Middleton, Sellers, Leblanc, Esparza, Hardin, Bradshaw, McIntosh,
    Howe, Livingston, Frost, Glass, Morse, Knapp, Herman, Stark, Bravo, Noble, Spears, Weeks, Corona,
    Frederick, Buckley, McFarland, Hebert, Enriquez, Hickman, Quintero, Randolph, Schaefer, Walls, Trejo,
    House, Reilly, Pennington, Michael, Conrad, Giles, Benjamin, Crosby, Fitzpatrick, Donovan, Mays,
    Mahoney, Valentine, Raymond, Medrano, Hahn, McMillan, Small, Bentley, Felix, Peck, Lucero, Boyle, Hanna,
    Pace, Rush, Hurley, Harding, McConnell, Bernal, Nava, Ayers, Everett, Ventura, Avery, Pugh, Mayer,
    Bender, Shepard, McMahon, Landry, Case, Sampson, Moses, Magana, Blackburn, Dunlap, Gould, Duffy,
    Vaughan, Herring, McKay, Espinosa, Rivers, Farley, Bernard, Ashley, Friedman, Potts, Truong, Costa,
    Correa, Blevins, Nixon, Clements, Fry, Delarosa, Best, Benton, Lugo, Portillo, Dougherty, Crane, Haley,
    Phan, Villalobos, Blanchard, Horne, Finley, Quintana, Lynn, Esquivel, Bean, Dodson, Mullen, Xiong,
    Hayden, Cano, Levy, Huber, Richmond, Moyer, Lim, Frye, Sheppard, McCarty, Avalos, Booker, Waller, Parra,
    Woodward, Jaramillo, Krueger, Rasmussen, Brandt, Peralta, Donaldson, Stuart, Faulkner, Maynard, Galindo,
    Coffey, Estes, Sanford, Burch, Maddox, Vo, OConnell, Vu, Andersen, Spence, McPherson, Church, Schmitt,
    Stanton, Leal, Cherry, Compton, Dudley, Sierra, Pollard, Alfaro, Hester, Proctor, Lu, Hinton, Novak,
    Good, Madden, McCann, Terrell, Jarvis, Dickson, Reyna, Cantrell, Mayo, Branch, Hendrix, Rollins,
    Rowland, Whitney, Duke, Odom, Daugherty, Travis, Tang, Archer, Muller, Fischbach, Kowalski, Nowak,
    Ivanov, Petrov, Tanaka, Suzuki, Sato, Watanabe, Takahashi, Nakamura, Yamamoto, Kobayashi, Gupta, Sharma,
    Kumar, Reddy, Iyer, Mehta, Rao, Das, Okafor, Mensah, Haddad, Rahman, Dubois, Lefebvre, Moreau, Laurent,
    Bernardi, Rossi, Ferrari, Esposito, Romano, Ricci, DeJong, Jansen, DeVries, VanDijk, Bakker, Visser,
    Lindqvist, Johansson, Karlsson, Nilsson, Eriksson, Larsson, Virtanen, Korhonen, Novotny, Horvath,
    Popescu
    """
)

# First half of a company name: invented and plain words, the way real brands sound.
COMPANY_WORDS = _words(
    """
    Northwind, Contoso, Fabrikam, Adventure, Blue Yonder, Tailspin, Wingtip, Litware, Proseware, Woodgrove,
    Lucerne, Alpine, Summit, Harbor, Granite, Redwood, Silverline, Brightpath, Clearwater, Ironbridge,
    Keystone, Lakeside, Meridian, Northstar, Oakridge, Pinnacle, Quantum, Riverbend, Sterling, Trident,
    Unity, Vanguard, Westfield, Zenith, Apex, Beacon, Cascade, Delta, Evergreen, Frontier, Golden Gate,
    Horizon, Insight, Juniper, Kinetic, Landmark, Momentum, Nimbus, Orion, Pacific, Radiant, Sapphire,
    Titan, Upland, Vertex, Willow, Aurora, Bluepeak, Cobalt, Driftwood, Ember, Falcon, Glacier, Highland,
    Indigo, Jetstream, Kestrel, Lumen, Mosaic, Nova, Onyx, Paragon, Quarry, Rockford, Sequoia, Tidewater,
    Ultra, Vista, Wavecrest, Atlas, Boreal, Crescent, Dynamo, Elevate, Fulcrum, Gridline, Helix, Ignite,
    Jadestone, Kingsway, Lighthouse, Maple, Nexus, Optima, Polaris, Quest, Redstone, Stonebridge, Tetra,
    Uptown, Velocity, Whitestone, Xenon, Yellowstone, Zephyr, Anchor, Bridgewater, Copperline, Deepwater,
    Eastgate, Foxglove, Greenleaf, Hawthorne, Ironwood, Jupiter, Kensington, Lodestar, Marlin, Newport,
    Oceanic, Pioneer, Quicksilver, Ridgeway, Skyline, Trailhead, Unison, Valiant, Windward, Arcadia,
    Brookstone, Caldera, Digital Forge, Everstone, Firefly, Gemini, Harborview, Icefield, Jasper,
    Kingfisher, Larkspur, Midland, Northgate, Olympus, Prairie, Quill, Rainier, Silverbirch, Thunderbird,
    Urban, Verdant, Wildflower, Amberline, Bayside, Centric, Dovetail, Equinox, Fairway, Greystone,
    Hillcrest, Infinity, Jubilee, Keel, Legacy, Monarch, Neptune, Outpost, Parkview, Quasar, Regent,
    Solstice, Trinity, Uplink, Voyager, Westbrook, Axiom, Brightwater, Coastal, Dawnlight, Eagle, Flagship,
    Gateway, Heritage, Island, Journey, Kodiak, Lantern, Magnolia, Noble, Oasis, Peregrine, Quarterline,
    Rapid, Starboard, Tristar, Umber, Vector, Waypoint, Arrow, Bison, Cedar, Dune, Echo, Fjord, Grove,
    Halcyon, Inland, Jade, Kite, Luna, Mesa, Nordic, Opal, Prism, Ranger, Sable, Terra, Ursa, Vale, Wren,
    Acorn, Bolt, Crest, Dawn, Elm, Flint, Garnet, Hearth, Ivy, Jet, Knoll, Lynx, Mint, Nest, Orbit, Pike,
    Reef, Slate, Thistle, Violet, Wolfpack, Yarrow, Zinc, Atlantic, Baltic, Celtic, Danube, Everest, Fuji,
    Gobi, Himalaya, Iberia, Jura, Kalahari, Ligurian, Mistral, Nile, Oslo, Patagonia, Rhine, Sahara, Tasman,
    Andes, Volga
    """
)

# Second half of a company name, by industry.
INDUSTRY_SUFFIXES: dict[str, tuple[str, ...]] = {
    "Logistics": ("Logistics", "Freight", "Shipping", "Supply Chain", "Transport", "Cargo", "Fulfillment"),
    "Software": (
        "Software",
        "Systems",
        "Labs",
        "Technologies",
        "Digital",
        "Cloud",
        "Data",
        "AI",
        "Analytics",
    ),
    "Manufacturing": ("Manufacturing", "Industries", "Components", "Fabrication", "Machinery", "Works"),
    "Healthcare": ("Health", "Medical", "Biotech", "Therapeutics", "Diagnostics", "Pharma", "Care"),
    "Energy": ("Energy", "Power", "Solar", "Renewables", "Grid", "Utilities", "Hydrogen"),
    "Retail": ("Retail", "Brands", "Commerce", "Outfitters", "Goods", "Stores", "Marketplace"),
    "Finance": ("Capital", "Financial", "Partners", "Payments", "Bank", "Advisors", "Insurance"),
    "Food & Beverage": ("Foods", "Beverages", "Kitchen", "Farms", "Provisions", "Brewing", "Nutrition"),
    "Construction": ("Construction", "Builders", "Engineering", "Materials", "Concrete", "Structures"),
    "Automotive": ("Automotive", "Motors", "Mobility", "EV", "Auto Parts", "Fleet"),
    "Security": ("Security", "Cyber", "Defense", "Protection", "Identity", "Shield"),
    "Packaging": ("Packaging", "Containers", "Labels", "Paper", "Plastics", "Printing"),
}

INDUSTRY_TOPICS: dict[str, tuple[str, ...]] = {
    "Logistics": (
        "Warehousing",
        "Last-Mile Delivery",
        "Freight Forwarding",
        "Cold Chain",
        "Fleet Telematics",
    ),
    "Software": ("Cloud Computing", "Artificial Intelligence", "DevOps", "Data Platforms", "SaaS"),
    "Manufacturing": ("Industry 4.0", "Robotics", "Additive Manufacturing", "Quality Control", "Automation"),
    "Healthcare": ("Digital Health", "Medical Devices", "Clinical Trials", "Telemedicine", "Genomics"),
    "Energy": ("Solar PV", "Energy Storage", "Smart Grid", "Wind Power", "Hydrogen"),
    "Retail": ("E-Commerce", "Omnichannel", "Point of Sale", "Customer Experience", "Private Label"),
    "Finance": ("Payments", "Fintech", "Risk Management", "Wealth Management", "Insurtech"),
    "Food & Beverage": ("Food Safety", "Plant-Based Foods", "Craft Beverages", "Food Processing", "Organic"),
    "Construction": ("BIM", "Sustainable Building", "Heavy Equipment", "Prefabrication", "Smart Cities"),
    "Automotive": ("Electric Vehicles", "Autonomous Driving", "Connected Cars", "Aftermarket", "Batteries"),
    "Security": ("Cybersecurity", "Zero Trust", "Access Control", "Video Surveillance", "Identity"),
    "Packaging": ("Sustainable Packaging", "Labeling", "Flexible Packaging", "Corrugated", "Print Tech"),
}

# city, region, country, a venue, the country's phone prefix and a usual company web suffix.
CITIES = (
    ("Las Vegas", "Nevada", "United States", "Las Vegas Convention Center", "+1", ".com"),
    ("Chicago", "Illinois", "United States", "McCormick Place", "+1", ".com"),
    ("Orlando", "Florida", "United States", "Orange County Convention Center", "+1", ".com"),
    ("New York", "New York", "United States", "Javits Center", "+1", ".com"),
    ("San Francisco", "California", "United States", "Moscone Center", "+1", ".com"),
    ("Atlanta", "Georgia", "United States", "Georgia World Congress Center", "+1", ".com"),
    ("Toronto", "Ontario", "Canada", "Enercare Centre", "+1", ".ca"),
    ("London", "England", "United Kingdom", "ExCeL London", "+44", ".co.uk"),
    ("Birmingham", "England", "United Kingdom", "NEC Birmingham", "+44", ".co.uk"),
    ("Berlin", "Berlin", "Germany", "Messe Berlin", "+49", ".de"),
    ("Munich", "Bavaria", "Germany", "Messe Muenchen", "+49", ".de"),
    ("Frankfurt", "Hesse", "Germany", "Messe Frankfurt", "+49", ".de"),
    ("Paris", "Ile-de-France", "France", "Paris Expo Porte de Versailles", "+33", ".fr"),
    ("Amsterdam", "North Holland", "Netherlands", "RAI Amsterdam", "+31", ".nl"),
    ("Barcelona", "Catalonia", "Spain", "Fira Gran Via", "+34", ".es"),
    ("Milan", "Lombardy", "Italy", "Fiera Milano", "+39", ".it"),
    ("Stockholm", "Stockholm", "Sweden", "Stockholmsmassan", "+46", ".se"),
    ("Dubai", "Dubai", "United Arab Emirates", "Dubai World Trade Centre", "+971", ".ae"),
    ("Singapore", "Central Region", "Singapore", "Marina Bay Sands Expo", "+65", ".sg"),
    ("Tokyo", "Tokyo", "Japan", "Tokyo Big Sight", "+81", ".jp"),
    ("Sydney", "New South Wales", "Australia", "ICC Sydney", "+61", ".com.au"),
    ("Sao Paulo", "Sao Paulo", "Brazil", "Expo Center Norte", "+55", ".com.br"),
)

EVENT_KINDS = (
    ("Expo", "Trade Show"),
    ("Summit", "Conference"),
    ("Conference", "Conference"),
    ("Forum", "Conference"),
    ("Show", "Trade Show"),
    ("Week", "Festival"),
    ("World", "Trade Show"),
)

DEPARTMENTS = (
    "Sales",
    "Marketing",
    "Engineering",
    "Operations",
    "Finance",
    "Human Resources",
    "Product",
    "Information Technology",
    "Procurement",
    "Customer Success",
    "Business Development",
    "Legal",
)

# (seniority level, share of people in percent), most senior first.
SENIORITY = (("C-Level", 3), ("VP", 6), ("Director", 12), ("Manager", 22), ("Senior", 25), ("Entry", 32))

# Per department: the C-level title, the function name used in "VP of X", and the individual-contributor role.
DEPARTMENT_ROLES: dict[str, tuple[str, str, str]] = {
    "Sales": ("Chief Revenue Officer", "Sales", "Account Executive"),
    "Marketing": ("Chief Marketing Officer", "Marketing", "Marketing Specialist"),
    "Engineering": ("Chief Technology Officer", "Engineering", "Software Engineer"),
    "Operations": ("Chief Operating Officer", "Operations", "Operations Analyst"),
    "Finance": ("Chief Financial Officer", "Finance", "Financial Analyst"),
    "Human Resources": ("Chief People Officer", "People", "HR Generalist"),
    "Product": ("Chief Product Officer", "Product", "Product Manager"),
    "Information Technology": ("Chief Information Officer", "IT", "Systems Administrator"),
    "Procurement": ("Chief Procurement Officer", "Procurement", "Buyer"),
    "Customer Success": ("Chief Customer Officer", "Customer Success", "Customer Success Manager"),
    "Business Development": (
        "Chief Executive Officer",
        "Business Development",
        "Business Development Representative",
    ),
    "Legal": ("General Counsel", "Legal", "Legal Counsel"),
}
