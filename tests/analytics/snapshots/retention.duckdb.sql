WITH "t12" AS (
  SELECT
    "t7"."id_type",
    "t7"."id_value",
    MIN("t7"."profile_id") AS "profile_id"
  FROM (
    SELECT
      *
    FROM "profile_identifiers" AS "t2"
    WHERE
      "t2"."status" = 'linked'
  ) AS "t7"
  GROUP BY
    1,
    2
), "t26" AS (
  SELECT
    *
  FROM (
    SELECT
      COALESCE(
        "t18"."u_profile",
        "t19"."a_profile",
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
        "t0"."event" IN ('Signed Up')
        AND COALESCE("t0"."timestamp", "t0"."original_timestamp", "t0"."received_at") IS NOT NULL
        AND (
          (
            "t0"."user_id" IS NOT NULL
          ) OR (
            "t0"."anonymous_id" IS NOT NULL
          )
        )
    ) AS "t11"
    LEFT OUTER JOIN (
      SELECT
        "t14"."id_type" AS "u_type",
        "t14"."id_value" AS "u_value",
        "t14"."profile_id" AS "u_profile"
      FROM "t12" AS "t14"
      WHERE
        "t14"."id_type" IN ('marketplace_buyer_id', 'user_id')
    ) AS "t18"
      ON CASE
        WHEN "t11"."source" = 'tmall'
        THEN 'marketplace_buyer_id'
        ELSE CASE WHEN "t11"."source" = 'jd' THEN 'marketplace_buyer_id' ELSE 'user_id' END
      END = "t18"."u_type"
      AND "t11"."user_id" = "t18"."u_value"
    LEFT OUTER JOIN (
      SELECT
        "t14"."id_type" AS "a_type",
        "t14"."id_value" AS "a_value",
        "t14"."profile_id" AS "a_profile"
      FROM "t12" AS "t14"
      WHERE
        "t14"."id_type" IN ('anonymous_id', 'wechat_openid')
    ) AS "t19"
      ON CASE WHEN "t11"."source" = 'wechat' THEN 'wechat_openid' ELSE 'anonymous_id' END = "t19"."a_type"
      AND "t11"."anonymous_id" = "t19"."a_value"
  ) AS "t23"
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
          "t20"."order_id",
          "t20"."source",
          "t20"."channel",
          "t20"."store_id",
          "t20"."customer_record_id",
          "t20"."user_id",
          "t20"."anonymous_id",
          "t20"."ordered_at",
          "t20"."status",
          "t20"."currency",
          "t20"."subtotal",
          "t20"."discount",
          "t20"."tax",
          "t20"."shipping",
          "t20"."total",
          "t20"."campaign_id",
          "t20"."coupon",
          "t20"."fulfilment",
          "t20"."attributes",
          "t20"."updated_at",
          "t20"."loaded_at",
          "t20"."cid",
          "t20"."cname",
          FALSE AS "m0",
          TRUE AS "m1"
        FROM (
          SELECT
            "t15"."order_id",
            "t15"."source",
            "t15"."channel",
            "t15"."store_id",
            "t15"."customer_record_id",
            "t15"."user_id",
            "t15"."anonymous_id",
            "t15"."ordered_at",
            "t15"."status",
            "t15"."currency",
            "t15"."subtotal",
            "t15"."discount",
            "t15"."tax",
            "t15"."shipping",
            "t15"."total",
            "t15"."campaign_id",
            "t15"."coupon",
            "t15"."fulfilment",
            "t15"."attributes",
            "t15"."updated_at",
            "t15"."loaded_at",
            "t10"."cid",
            "t10"."cname"
          FROM (
            SELECT
              *
            FROM "orders" AS "t3"
            WHERE
              NOT (
                LOWER(COALESCE("t3"."status", '')) IN ('cancelled', 'canceled', 'refunded', 'failed', 'voided')
              )
              AND "t3"."ordered_at" IS NOT NULL
          ) AS "t15"
          LEFT OUTER JOIN (
            SELECT
              "t4"."campaign_id" AS "cid",
              MIN("t4"."name") AS "cname"
            FROM "campaigns" AS "t4"
            GROUP BY
              1
          ) AS "t10"
            ON "t15"."campaign_id" = "t10"."cid"
        ) AS "t20"
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
  ) AS "t25"
), "t32" AS (
  SELECT
    "t31"."c_person",
    "t31"."first_at",
    DATE_TRUNC('MONTH', "t31"."first_at") AS "cohort"
  FROM (
    SELECT
      "t28"."person" AS "c_person",
      MIN("t28"."ts") AS "first_at"
    FROM (
      SELECT
        *
      FROM "t26" AS "t27"
      WHERE
        "t27"."m0"
    ) AS "t28"
    GROUP BY
      1
  ) AS "t31"
)
SELECT
  *
FROM (
  SELECT
    *
  FROM (
    SELECT
      "t35"."cohort",
      0 AS "period",
      "t35"."people"
    FROM (
      SELECT
        "t33"."cohort",
        COUNT("t33"."c_person") AS "people"
      FROM "t32" AS "t33"
      GROUP BY
        1
    ) AS "t35"
  ) AS "t36"
  UNION ALL
  SELECT
    *
  FROM (
    SELECT
      *
    FROM (
      SELECT
        "t39"."cohort",
        "t39"."period",
        COUNT(DISTINCT "t39"."c_person") AS "people"
      FROM (
        SELECT
          *
        FROM (
          SELECT
            "t37"."person",
            "t37"."ts",
            "t37"."m0",
            "t37"."m1",
            "t37"."c_person",
            "t37"."first_at",
            "t37"."cohort",
            (
              (
                EXTRACT(year FROM DATE_TRUNC('MONTH', "t37"."ts")) - EXTRACT(year FROM "t37"."cohort")
              ) * 12
            ) + (
              EXTRACT(month FROM DATE_TRUNC('MONTH', "t37"."ts")) - EXTRACT(month FROM "t37"."cohort")
            ) AS "period"
          FROM (
            SELECT
              "t30"."person",
              "t30"."ts",
              "t30"."m0",
              "t30"."m1",
              "t34"."c_person",
              "t34"."first_at",
              "t34"."cohort"
            FROM (
              SELECT
                *
              FROM "t26" AS "t27"
              WHERE
                "t27"."m1"
            ) AS "t30"
            INNER JOIN "t32" AS "t34"
              ON "t30"."person" = "t34"."c_person"
          ) AS "t37"
          WHERE
            "t37"."ts" >= "t37"."cohort"
        ) AS "t38"
        WHERE
          "t38"."period" >= 1 AND "t38"."period" <= 8
      ) AS "t39"
      GROUP BY
        1,
        2
    ) AS "t40"
  ) AS "t41"
) AS "t42"
ORDER BY
  "t42"."cohort" ASC,
  "t42"."period" ASC
