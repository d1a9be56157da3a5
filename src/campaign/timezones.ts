/**
 * Which time zone a contact is in, for the calling window.
 *
 * In order: the CSV's `timezone` column; for +1 numbers (US, Canada) the area code, from the table
 * below; otherwise the country libphonenumber-js gives, with its single zone (from ICU via
 * `Intl.Locale#timeZones`) or, for countries spanning several UTC offsets, its most populous zone
 * (REPRESENTATIVE). An area code that straddles zones maps to all of them, and an area code the
 * table does not know maps to every mainland zone of the country: the dispatcher only calls when
 * the window is open in EVERY zone a contact may be in, so an uncertain zone narrows the window
 * rather than risking a call at 07:00.
 *
 * Limitations: the NANP table is hand-kept (new overlay codes fall back to the conservative
 * rule), mobile numbers keep their area code when people move, and large countries other than the
 * US and Canada (Russia, Brazil, Australia, Mexico, Indonesia…) use one representative zone —
 * give those contacts a `timezone` column.
 */
import type { CountryCode } from 'libphonenumber-js/max';

/** Multi-offset countries: the zone most of the population lives in. */
const REPRESENTATIVE: Partial<Record<string, string>> = {
  US: 'America/New_York',
  CA: 'America/Toronto',
  AU: 'Australia/Sydney',
  BR: 'America/Sao_Paulo',
  CD: 'Africa/Kinshasa',
  CL: 'America/Santiago',
  CN: 'Asia/Shanghai',
  EC: 'America/Guayaquil',
  ES: 'Europe/Madrid',
  FM: 'Pacific/Pohnpei',
  GL: 'America/Nuuk',
  ID: 'Asia/Jakarta',
  KI: 'Pacific/Tarawa',
  MN: 'Asia/Ulaanbaatar',
  MX: 'America/Mexico_City',
  NZ: 'Pacific/Auckland',
  PF: 'Pacific/Tahiti',
  PG: 'Pacific/Port_Moresby',
  PT: 'Europe/Lisbon',
  RU: 'Europe/Moscow',
  UA: 'Europe/Kyiv',
  AC: 'Atlantic/St_Helena',
  TA: 'Atlantic/St_Helena',
  XK: 'Europe/Belgrade',
};

const ET = 'America/New_York';
const CT = 'America/Chicago';
const MT = 'America/Denver';
const PT = 'America/Los_Angeles';

/** Area codes by zone. A code listed under several keys straddles them. */
const NANP: Record<string, string> = {
  [ET]:
    '201 202 203 207 212 215 216 220 223 226 227 229 231 234 239 240 248 249 252 260 263 267 269 270 272 276 283 289 ' +
    '301 302 304 305 313 315 317 321 324 326 329 330 332 339 343 347 351 352 354 363 364 365 367 380 382 386 401 404 ' +
    '407 410 412 413 416 418 419 423 434 436 437 438 440 443 445 448 450 463 468 470 472 475 478 484 502 508 513 514 ' +
    '516 517 518 519 540 548 551 561 567 570 571 574 579 581 582 585 586 603 606 607 609 610 613 614 616 617 624 631 ' +
    '640 645 646 647 656 667 678 679 680 681 683 686 689 703 704 705 706 716 717 718 724 727 728 732 734 740 742 743 ' +
    '753 754 757 762 765 770 771 772 774 781 786 802 803 804 807 810 812 813 814 819 821 826 828 835 838 839 843 845 ' +
    '848 850 854 856 857 859 860 862 863 864 865 873 878 904 905 906 908 910 912 914 917 919 929 930 931 934 937 941 ' +
    '942 943 947 948 954 959 973 978 980 984 989',
  [CT]:
    '204 205 210 214 217 218 219 224 225 228 235 251 254 256 262 270 274 281 308 309 312 314 316 318 319 320 325 327 ' +
    '331 334 337 346 353 361 364 402 405 409 414 417 430 431 432 447 448 464 469 479 501 504 507 512 515 531 534 539 ' +
    '557 563 572 573 580 584 601 605 608 612 615 618 620 629 630 636 641 651 659 660 662 682 701 708 712 713 715 726 ' +
    '730 731 737 763 769 773 779 785 806 807 812 815 816 817 830 832 847 850 861 870 872 901 903 906 913 918 920 930 ' +
    '931 936 938 940 945 952 956 972 975 979 985',
  [MT]: '208 303 307 308 385 403 406 435 458 505 541 575 587 605 620 701 719 720 780 785 801 825 368 915 970 983 986',
  'America/Phoenix': '480 520 602 623 928',
  [PT]:
    '206 208 209 213 236 250 253 279 310 323 341 350 360 369 408 415 424 425 442 458 503 509 510 530 541 559 562 564 ' +
    '604 619 626 628 650 657 661 669 672 702 707 714 725 747 760 775 778 805 818 820 831 840 858 909 916 925 949 951 ' +
    '971 986 257',
  'America/Regina': '306 474 639',
  'America/Halifax': '782 902',
  'America/Moncton': '428 506',
  'America/St_Johns': '709 879',
  'America/Anchorage': '907',
  'Pacific/Honolulu': '808',
  'America/Whitehorse': '867',
  'America/Yellowknife': '867',
  'America/Iqaluit': '867',
};

const BY_AREA_CODE = new Map<string, string[]>();
for (const [zone, codes] of Object.entries(NANP)) {
  for (const code of codes.split(' ')) {
    const zones = BY_AREA_CODE.get(code) ?? [];
    if (!zones.includes(zone)) zones.push(zone);
    BY_AREA_CODE.set(code, zones);
  }
}

/** Where we cannot tell: every mainland zone, so the window must be open across the country. */
const UNCERTAIN: Partial<Record<string, string[]>> = {
  US: [ET, CT, MT, PT],
  CA: ['America/Halifax', 'America/Toronto', 'America/Winnipeg', 'America/Edmonton', 'America/Vancouver'],
};

export interface ZoneGuess {
  zones: string[];
  source: 'column' | 'area_code' | 'country' | 'country_uncertain' | 'default_region';
}

const byCountry = new Map<string, string | null>();

/** The single zone of a country, or its representative; null if ICU knows none. */
export function countryZone(country: string): string | null {
  const cached = byCountry.get(country);
  if (cached !== undefined) return cached;
  let zone: string | null = REPRESENTATIVE[country] ?? null;
  if (!zone) {
    try {
      const locale = new Intl.Locale(`und-${country}`) as Intl.Locale & {
        timeZones?: string[];
        getTimeZones?: () => string[] | undefined;
      };
      const zones = locale.getTimeZones?.() ?? locale.timeZones ?? [];
      zone = zones[0] ?? null;
    } catch {
      zone = null;
    }
  }
  byCountry.set(country, zone);
  return zone;
}

export function guessZones(country: CountryCode | undefined, nationalNumber: string, defaultRegion: string): ZoneGuess {
  if (country === 'US' || country === 'CA') {
    const zones = BY_AREA_CODE.get(nationalNumber.slice(0, 3));
    if (zones) return { zones, source: 'area_code' };
    return { zones: UNCERTAIN[country]!, source: 'country_uncertain' };
  }
  if (country) {
    const zone = countryZone(country);
    if (zone) return { zones: [zone], source: 'country' };
  }
  // Non-geographic numbers (+800, satellites): the zone of the region the campaign runs in.
  const zone = countryZone(defaultRegion) ?? 'UTC';
  return { zones: [zone], source: 'default_region' };
}
