WITH "t13" AS (
  SELECT
    "t7"."id_type",
    "t7"."id_value",
    MIN("t7"."profile_id") AS "profile_id"
  FROM (
    SELECT
      *
    FROM "profile_identifiers" AS "t3"
    WHERE
      "t3"."status" = 'linked'
  ) AS "t7"
  GROUP BY
    1,
    2
), "t27" AS (
  SELECT
    *
  FROM (
    SELECT
      *
    FROM (
      SELECT
        COALESCE(
          "t19"."u_profile",
          "t20"."a_profile",
          'user_id:' || "t11"."user_id",
          'anonymous_id:' || "t11"."anonymous_id"
        ) AS "person",
        "t11"."ts",
        "t11"."m0",
        "t11"."m1"
      FROM (
        SELECT
          "t0"."user_id",
          "t0"."anonymous_id",
          "t0"."source",
          COALESCE("t0"."timestamp", "t0"."original_timestamp", "t0"."received_at") AS "ts",
          "t0"."event" = 'Signed Up' AS "m0",
          FALSE AS "m1"
        FROM "events" AS "t0"
        WHERE
          (
            "t0"."event" = 'Signed Up'
          ) OR FALSE
      ) AS "t11"
      LEFT OUTER JOIN (
        SELECT
          "t15"."id_type" AS "u_type",
          "t15"."id_value" AS "u_value",
          "t15"."profile_id" AS "u_profile"
        FROM "t13" AS "t15"
        WHERE
          "t15"."id_type" IN ('marketplace_buyer_id', 'user_id')
      ) AS "t19"
        ON CASE
          WHEN "t11"."source" = 'tmall'
          THEN 'marketplace_buyer_id'
          ELSE CASE WHEN "t11"."source" = 'jd' THEN 'marketplace_buyer_id' ELSE 'user_id' END
        END = "t19"."u_type"
        AND "t11"."user_id" = "t19"."u_value"
      LEFT OUTER JOIN (
        SELECT
          "t15"."id_type" AS "a_type",
          "t15"."id_value" AS "a_value",
          "t15"."profile_id" AS "a_profile"
        FROM "t13" AS "t15"
        WHERE
          "t15"."id_type" IN ('anonymous_id', 'wechat_openid')
      ) AS "t20"
        ON CASE WHEN "t11"."source" = 'wechat' THEN 'wechat_openid' ELSE 'anonymous_id' END = "t20"."a_type"
        AND "t11"."anonymous_id" = "t20"."a_value"
    ) AS "t23"
    WHERE
      "t23"."person" IS NOT NULL AND "t23"."ts" IS NOT NULL
  ) AS "t25"
  UNION ALL
  SELECT
    *
  FROM (
    SELECT
      *
    FROM (
      SELECT
        COALESCE("t6"."r_profile", 'user_id:' || "t22"."user_id") AS "person",
        "t22"."ordered_at" AS "ts",
        "t22"."m0",
        "t22"."m1"
      FROM (
        SELECT
          "t18"."order_id",
          "t18"."source",
          "t18"."channel",
          "t18"."store_id",
          "t18"."customer_record_id",
          "t18"."user_id",
          "t18"."anonymous_id",
          "t18"."ordered_at",
          "t18"."status",
          "t18"."currency",
          "t18"."subtotal",
          "t18"."discount",
          "t18"."tax",
          "t18"."shipping",
          "t18"."total",
          "t18"."campaign_id",
          "t18"."coupon",
          "t18"."fulfilment",
          "t18"."attributes",
          "t18"."updated_at",
          "t18"."loaded_at",
          "t18"."cid",
          "t18"."cname",
          FALSE AS "m0",
          TRUE AS "m1"
        FROM (
          SELECT
            "t14"."order_id",
            "t14"."source",
            "t14"."channel",
            "t14"."store_id",
            "t14"."customer_record_id",
            "t14"."user_id",
            "t14"."anonymous_id",
            "t14"."ordered_at",
            "t14"."status",
            "t14"."currency",
            "t14"."subtotal",
            "t14"."discount",
            "t14"."tax",
            "t14"."shipping",
            "t14"."total",
            "t14"."campaign_id",
            "t14"."coupon",
            "t14"."fulfilment",
            "t14"."attributes",
            "t14"."updated_at",
            "t14"."loaded_at",
            "t10"."cid",
            "t10"."cname"
          FROM (
            SELECT
              *
            FROM "orders" AS "t2"
            WHERE
              NOT (
                LOWER(COALESCE("t2"."status", '')) IN ('cancelled', 'canceled', 'refunded', 'failed', 'voided')
              )
              AND "t2"."ordered_at" IS NOT NULL
          ) AS "t14"
          LEFT OUTER JOIN (
            SELECT
              "t4"."campaign_id" AS "cid",
              MIN("t4"."name") AS "cname"
            FROM "campaigns" AS "t4"
            GROUP BY
              1
          ) AS "t10"
            ON "t14"."campaign_id" = "t10"."cid"
        ) AS "t18"
        WHERE
          FALSE OR TRUE
      ) AS "t22"
      LEFT OUTER JOIN (
        SELECT
          "t1"."source" AS "r_source",
          "t1"."record_id" AS "r_id",
          "t1"."profile_id" AS "r_profile"
        FROM "record_profiles" AS "t1"
      ) AS "t6"
        ON "t22"."source" = "t6"."r_source" AND "t22"."order_id" = "t6"."r_id"
    ) AS "t24"
    WHERE
      "t24"."person" IS NOT NULL
  ) AS "t26"
), "t33" AS (
  SELECT
    "t32"."c_person",
    "t32"."first_at",
    DATE_TRUNC('MONTH', "t32"."first_at") AS "cohort"
  FROM (
    SELECT
      "t29"."person" AS "c_person",
      MIN("t29"."ts") AS "first_at"
    FROM (
      SELECT
        *
      FROM "t27" AS "t28"
      WHERE
        "t28"."m0"
    ) AS "t29"
    GROUP BY
      1
  ) AS "t32"
)
SELECT
  *
FROM (
  SELECT
    *
  FROM (
    SELECT
      "t36"."cohort",
      0 AS "period",
      "t36"."people"
    FROM (
      SELECT
        "t34"."cohort",
        COUNT("t34"."c_person") AS "people"
      FROM "t33" AS "t34"
      GROUP BY
        1
    ) AS "t36"
  ) AS "t37"
  UNION ALL
  SELECT
    *
  FROM (
    SELECT
      *
    FROM (
      SELECT
        "t40"."cohort",
        "t40"."period",
        COUNT(DISTINCT "t40"."c_person") AS "people"
      FROM (
        SELECT
          *
        FROM (
          SELECT
            "t38"."person",
            "t38"."ts",
            "t38"."m0",
            "t38"."m1",
            "t38"."c_person",
            "t38"."first_at",
            "t38"."cohort",
            (
              (
                EXTRACT(year FROM DATE_TRUNC('MONTH', "t38"."ts")) - EXTRACT(year FROM "t38"."cohort")
              ) * 12
            ) + (
              EXTRACT(month FROM DATE_TRUNC('MONTH', "t38"."ts")) - EXTRACT(month FROM "t38"."cohort")
            ) AS "period"
          FROM (
            SELECT
              "t31"."person",
              "t31"."ts",
              "t31"."m0",
              "t31"."m1",
              "t35"."c_person",
              "t35"."first_at",
              "t35"."cohort"
            FROM (
              SELECT
                *
              FROM "t27" AS "t28"
              WHERE
                "t28"."m1"
            ) AS "t31"
            INNER JOIN "t33" AS "t35"
              ON "t31"."person" = "t35"."c_person"
          ) AS "t38"
          WHERE
            "t38"."ts" >= "t38"."cohort"
        ) AS "t39"
        WHERE
          "t39"."period" >= 1 AND "t39"."period" <= 8
      ) AS "t40"
      GROUP BY
        1,
        2
    ) AS "t41"
  ) AS "t42"
) AS "t43"
ORDER BY
  "t43"."cohort" ASC,
  "t43"."period" ASC
